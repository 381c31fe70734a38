package smoke;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.github.example.opalambdaextension.OpaBundle;
import io.github.example.opalambdaextension.OpaExtensionLayer;
import io.github.example.opalambdaextension.OpaExtensionLayerProps;
import io.github.example.opalambdaextension.OpaRegoBundleOptions;
import io.github.example.opalambdaextension.OpaSecret;
import io.github.example.opalambdaextension.OpaSecretsManagerOptions;
import io.github.example.opalambdaextension.OpaUrlBundleOptions;
import software.amazon.awscdk.App;
import software.amazon.awscdk.Stack;
import software.amazon.awscdk.assertions.Template;
import software.amazon.awscdk.services.iam.Role;
import software.amazon.awscdk.services.iam.ServicePrincipal;
import software.amazon.awscdk.services.lambda.Architecture;
import software.amazon.awscdk.services.lambda.Code;
import software.amazon.awscdk.services.lambda.Function;
import software.amazon.awscdk.services.lambda.Runtime;
import software.amazon.awscdk.services.secretsmanager.Secret;
import software.constructs.Construct;

/**
 * Smoke test of the Java package built by jsii-pacmak (dist/java). A CDK app a Java user would
 * write: an OPA layer with two bundles, one compiled from Rego at synth (OpaBundle.fromRego,
 * checked against {@code queries}) and one downloaded from a bundle server with a token kept in
 * Secrets Manager; attached with addLayers, addToFunctions and addToAllFunctions. It synthesizes
 * the stack and checks the template (the layer, each function's Layers and environment, the
 * secret's grant scoped to its ARN), the layer's folder (the bundle embedded, the token read from
 * the secret), and that a query no entrypoint answers fails synth. A second stack attaches the
 * layer to functions whose runtime has no node (Python 3.13 on x86_64, provided.al2023 on arm64):
 * each also gets the Node.js layer of its architecture, and an Amazon Linux 2 runtime is refused.
 * Exits 1 on any mismatch. The Rego folder, the OPA CLI and the folder holding the node-linux-*
 * packages come from OPA_SMOKE_POLICY, OPA_SMOKE_OPA and OPA_SMOKE_NODE_PACKAGES.
 */
public final class SmokeApp {
    private static final String HANDLER = "exports.handler = async () => ({ statusCode: 200 });";
    private static final String OPA_URL = "http://127.0.0.1:8181";
    private static final String POLICY = new File(System.getenv("OPA_SMOKE_POLICY")).getAbsolutePath();
    private static final String OPA = new File(System.getenv("OPA_SMOKE_OPA")).getAbsolutePath();
    private static final String NODE_PACKAGES = new File(System.getenv("OPA_SMOKE_NODE_PACKAGES")).getAbsolutePath();

    private final List<String> failures = new ArrayList<>();

    public static void main(final String[] args) throws IOException {
        List<String> failures = new SmokeApp().run();
        failures.forEach(f -> System.err.println("java: FAIL " + f));
        System.exit(failures.isEmpty() ? 0 : 1);
    }

    private List<String> run() throws IOException {
        App app = new App();
        Stack stack = new Stack(app, "OpaSmoke");
        Secret token = new Secret(stack, "BundleToken");
        OpaExtensionLayer opa = new OpaExtensionLayer(stack, "Opa", OpaExtensionLayerProps.builder()
                .bundles(List.of(
                        regoBundle(),
                        OpaBundle.fromUrl("https://bundles.example.com", "bundles/rbac.tar.gz", OpaUrlBundleOptions.builder()
                                .bearerTokenSecret(OpaSecret.fromSecretsManager(token,
                                        OpaSecretsManagerOptions.builder().jsonField("token").build()))
                                .build())))
                .queries(List.of("app/authz/allow"))
                .build());
        function(stack, "ByLayers").addLayers(opa);
        opa.addToFunctions(function(stack, "ByCallA"), function(stack, "ByCallB"));
        Construct team = new Construct(stack, "Team");
        function(team, "ByAspect");
        opa.addToAllFunctions(team);
        function(stack, "Plain");
        Role reader = Role.Builder.create(stack, "Reader").assumedBy(new ServicePrincipal("lambda.amazonaws.com")).build();
        opa.grantRead(reader);

        Template template = Template.fromStack(stack);
        Map<String, Map<String, Object>> layers = template.findResources("AWS::Lambda::LayerVersion");
        check(layers.size() == 1, "expected one AWS::Lambda::LayerVersion, found " + layers.keySet());
        String layerId = layers.keySet().stream().findFirst().orElse(null);
        String secretId = only(template.findResources("AWS::SecretsManager::Secret"), "BundleToken").getKey();
        Map<String, Object> secretGrant = Map.of(
                "Action", "secretsmanager:GetSecretValue", "Effect", "Allow", "Resource", Map.of("Ref", secretId));
        // OPA_URL, and the variables the layer's config reads: the bundle server's URL and the secret's id.
        Map<String, Object> environment = Map.of("OPA_URL", OPA_URL, "OPA_RBAC_BUNDLE_URL", "https://bundles.example.com",
                "OPA_BUNDLES_RBAC_TOKEN_SECRET", Map.of("Ref", secretId));
        Map<String, Map<String, Object>> functions = template.findResources("AWS::Lambda::Function");
        for (String name : List.of("ByLayers", "ByCallA", "ByCallB", "TeamByAspect")) {
            Map<String, Object> props = only(functions, name).getValue();
            Object variables = asMap(props.get("Environment")).get("Variables");
            check(List.of(Map.of("Ref", String.valueOf(layerId))).equals(props.get("Layers")),
                    name + ": Layers is " + props.get("Layers") + ", expected [Ref " + layerId + "]");
            check(environment.equals(variables), name + ": environment is " + variables + ", expected " + environment);
            Object getAtt = asMap(props.get("Role")).get("Fn::GetAtt");
            String roleId = getAtt instanceof List ? String.valueOf(((List<?>) getAtt).get(0)) : null;
            if (check(roleId != null && roleStatements(template, roleId).contains(secretGrant), name + ": role " + roleId + " lacks " + secretGrant)) {
                System.out.println("java: " + name + " has layer " + layerId + ", OPA_URL=" + OPA_URL
                        + ", GetSecretValue on " + secretId + " only");
            }
        }
        Map<String, Object> plain = only(functions, "Plain").getValue();
        check(!plain.containsKey("Layers") && !plain.containsKey("Environment"), "Plain: expected no layer and no environment, got " + plain);
        String readerId = only(template.findResources("AWS::IAM::Role"), "Reader").getKey();
        check(List.of(secretGrant).equals(roleStatements(template, readerId)),
                "Reader: grantRead gave " + roleStatements(template, readerId) + ", expected [" + secretGrant + "]");
        checkLayerContents(app.getOutdir(), layers.get(layerId));
        for (Map<String, Object> statement : roleStatements(template, null)) {
            if (String.valueOf(statement.get("Action")).contains("secretsmanager")) {
                check(secretGrant.equals(statement), "a secretsmanager statement not scoped to " + secretId + ": " + statement);
            }
        }

        // `queries` is checked at synth against the entrypoints of the bundle built from Rego.
        Stack unanswered = new Stack(new App(), "Unanswered");
        try {
            new OpaExtensionLayer(unanswered, "Opa", OpaExtensionLayerProps.builder()
                    .bundle(regoBundle()).queries(List.of("app/billing/allow")).build());
            check(false, "a query no entrypoint answers did not fail synth");
        } catch (RuntimeException err) {
            String message = String.valueOf(err.getMessage());
            if (check(message.contains("'app/billing/allow' is answered by no entrypoint") && message.contains("'app/authz/allow'"),
                    "unexpected error for an unanswered query: " + message)) {
                System.out.println("java: an unanswered query fails synth: " + message.lines().findFirst().orElse(""));
            }
        }
        checkOtherRuntimes();
        return failures;
    }

    /**
     * Functions whose runtime has no node get the Node.js layer of their architecture beside the OPA
     * layer; an Amazon Linux 2 runtime is refused with the runtime to use.
     */
    private void checkOtherRuntimes() throws IOException {
        App app = App.Builder.create().context(Map.of("opa-lambda-extension:nodePackagesDir", NODE_PACKAGES)).build();
        Stack stack = new Stack(app, "AnyRuntime");
        OpaExtensionLayer opa = new OpaExtensionLayer(stack, "Opa", OpaExtensionLayerProps.builder().bundle(regoBundle()).build());
        Function.Builder.create(stack, "Python").runtime(Runtime.PYTHON_3_13).handler("index.handler")
                .code(Code.fromInline("def handler(event, context):\n    return 200\n")).build().addLayers(opa);
        // An OS-only function: its code is a `bootstrap` program, in a folder under TMPDIR (which
        // scripts/smoke.sh removes), as Python's and Go's temporary folders are.
        Path code = Files.createTempDirectory(Path.of(System.getenv().getOrDefault("TMPDIR", System.getProperty("java.io.tmpdir"))), "bootstrap");
        Files.writeString(code.resolve("bootstrap"), "#!/bin/sh\nexec sleep infinity\n");
        opa.addToFunction(Function.Builder.create(stack, "OsOnly").runtime(Runtime.PROVIDED_AL2023).architecture(Architecture.ARM_64)
                .handler("bootstrap").code(Code.fromAsset(code.toString())).build());
        Template template = Template.fromStack(stack);
        Map<String, Map<String, Object>> layers = template.findResources("AWS::Lambda::LayerVersion");
        List<String> opaIds = layers.keySet().stream().filter(id -> !id.startsWith("OpaNodeRuntime")).toList();
        check(opaIds.size() == 1, "expected one OPA layer beside the Node.js layers, found " + layers.keySet());
        String opaId = opaIds.isEmpty() ? null : opaIds.get(0);
        Map<String, Map<String, Object>> functions = template.findResources("AWS::Lambda::Function");
        for (List<String> pair : List.of(List.of("Python", "x8664"), List.of("OsOnly", "arm64"))) {
            String name = pair.get(0);
            String nodeId = only(layers, "OpaNodeRuntime" + pair.get(1)).getKey();
            Map<String, Object> props = only(functions, name).getValue();
            Object expected = List.of(Map.of("Ref", String.valueOf(opaId)), Map.of("Ref", nodeId));
            check(expected.equals(props.get("Layers")), name + ": Layers is " + props.get("Layers") + ", expected " + expected);
            Object url = asMap(asMap(props.get("Environment")).get("Variables")).get("OPA_URL");
            if (check(OPA_URL.equals(url), name + ": OPA_URL is " + url)) {
                System.out.println("java: " + name + " (" + props.get("Runtime") + ") has layers " + opaId + " and " + nodeId + ", OPA_URL=" + OPA_URL);
            }
        }
        Function old = Function.Builder.create(stack, "Old").runtime(Runtime.PYTHON_3_11).handler("index.handler")
                .code(Code.fromInline("def handler(event, context):\n    return 200\n")).build();
        try {
            opa.addToFunction(old);
            check(false, "a python3.11 function (Amazon Linux 2) was not refused");
        } catch (RuntimeException err) {
            String message = String.valueOf(err.getMessage());
            if (check(message.contains("runtime python3.11 runs on Amazon Linux 2") && message.contains("use python3.12 or newer"),
                    "unexpected error for python3.11: " + message)) {
                System.out.println("java: an Amazon Linux 2 runtime is refused: " + message.lines().findFirst().orElse(""));
            }
        }
    }

    /** The layer's folder in the cloud assembly: the Rego bundle embedded, the remote one's token read from the secret. */
    private void checkLayerContents(final String outdir, final Map<String, Object> layer) throws IOException {
        String key = String.valueOf(asMap(asMap(asMap(layer).get("Properties")).get("Content")).get("S3Key"));
        Path folder = Path.of(outdir, "asset." + key.replaceFirst("\\.zip$", ""), "opa-extension");
        Path embedded = folder.resolve("bundles").resolve("authz.tar");
        check(Files.isRegularFile(embedded) && Files.size(embedded) > 0, "layer: no embedded bundle at " + embedded);
        // Jackson comes with the jsii runtime the package depends on.
        Map<String, Object> config = asMap(new ObjectMapper().readValue(folder.resolve("config.json").toFile(), Map.class));
        Object tokenFrom = asMap(asMap(asMap(asMap(config.get("services")).get("bundles_rbac")).get("credentials")).get("bearer")).get("token_from");
        Object expected = Map.of("secrets_manager", Map.of("secret_id", "${OPA_BUNDLES_RBAC_TOKEN_SECRET}", "json_field", "token"));
        check(expected.equals(tokenFrom), "layer: token_from is " + tokenFrom + ", expected " + expected);
        check(asMap(config.get("bundles")).keySet().equals(java.util.Set.of("rbac")),
                "layer: config bundles are " + asMap(config.get("bundles")).keySet() + ", expected [rbac]");
        System.out.println("java: layer embeds authz.tar (inflated at synth); rbac's token comes from " + tokenFrom);
    }

    private static OpaBundle regoBundle() {
        return OpaBundle.fromRego(POLICY, OpaRegoBundleOptions.builder()
                .entrypoints(List.of("app/authz/allow")).name("authz").opaBinary(OPA).build());
    }

    private static Function function(final Construct scope, final String id) {
        return Function.Builder.create(scope, id)
                .runtime(Runtime.NODEJS_20_X)
                .handler("index.handler")
                .code(Code.fromInline(HANDLER))
                .build();
    }

    private boolean check(final boolean ok, final String message) {
        if (!ok) {
            failures.add(message);
        }
        return ok;
    }

    /** The one resource whose logical id starts with the prefix, as (logical id, properties). */
    private Map.Entry<String, Map<String, Object>> only(final Map<String, Map<String, Object>> resources, final String prefix) {
        List<Map.Entry<String, Map<String, Object>>> matches = new ArrayList<>();
        resources.forEach((id, resource) -> {
            if (id.startsWith(prefix)) {
                matches.add(Map.entry(id, asMap(resource.get("Properties"))));
            }
        });
        check(matches.size() == 1, "expected one resource " + prefix + "*, found " + matches.size());
        return matches.isEmpty() ? Map.entry("", Map.of()) : matches.get(0);
    }

    /** The statements of every AWS::IAM::Policy attached to the role (to any role when roleId is null). */
    private static List<Map<String, Object>> roleStatements(final Template template, final String roleId) {
        List<Map<String, Object>> statements = new ArrayList<>();
        for (Map<String, Object> policy : template.findResources("AWS::IAM::Policy").values()) {
            Map<String, Object> props = asMap(policy.get("Properties"));
            List<?> roles = props.get("Roles") instanceof List ? (List<?>) props.get("Roles") : List.of();
            if (roleId == null || roles.contains(Map.of("Ref", roleId))) {
                for (Object statement : (List<?>) asMap(props.get("PolicyDocument")).get("Statement")) {
                    statements.add(asMap(statement));
                }
            }
        }
        return statements;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(final Object value) {
        return value instanceof Map ? (Map<String, Object>) value : Map.of();
    }
}
