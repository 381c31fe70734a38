package smoke;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.github.example.opalambdaextension.OpaBundle;
import io.github.example.opalambdaextension.OpaBundleAssetOptions;
import io.github.example.opalambdaextension.OpaExtensionLayer;
import io.github.example.opalambdaextension.OpaExtensionLayerProps;
import software.amazon.awscdk.App;
import software.amazon.awscdk.Stack;
import software.amazon.awscdk.assertions.Template;
import software.amazon.awscdk.services.lambda.Code;
import software.amazon.awscdk.services.lambda.Function;
import software.amazon.awscdk.services.lambda.Runtime;

/**
 * Smoke test of the Java package built by jsii-pacmak: the OPA layer with an embedded bundle,
 * attached to one Node.js function with addLayers (the layer's aspect sets OPA_URL) and to another
 * with addToFunction. Synthesizes the stack and checks the template; exits 1 on any mismatch.
 * The bundle's path comes from the OPA_SMOKE_BUNDLE environment variable.
 */
public final class SmokeApp {
    private static final String HANDLER = "exports.handler = async () => ({ statusCode: 200 });";

    public static void main(final String[] args) {
        App app = new App();
        Stack stack = new Stack(app, "OpaSmoke");
        OpaExtensionLayer opa = new OpaExtensionLayer(stack, "Opa", OpaExtensionLayerProps.builder()
                .bundle(OpaBundle.fromAsset(System.getenv("OPA_SMOKE_BUNDLE"),
                        OpaBundleAssetOptions.builder().name("authz").build()))
                .build());
        Function byLayers = function(stack, "ByLayers");
        byLayers.addLayers(opa);
        Function byCall = function(stack, "ByCall");
        opa.addToFunction(byCall);

        Template template = Template.fromStack(stack);
        List<String> failures = new ArrayList<>();
        Map<String, Map<String, Object>> layers = template.findResources("AWS::Lambda::LayerVersion");
        if (layers.size() != 1) {
            failures.add("expected one AWS::Lambda::LayerVersion, found " + layers.keySet());
        }
        String layerId = layers.keySet().stream().findFirst().orElse(null);
        Map<String, Map<String, Object>> functions = template.findResources("AWS::Lambda::Function");
        for (String name : List.of("ByLayers", "ByCall")) {
            List<Map<String, Object>> matches = new ArrayList<>();
            functions.forEach((id, resource) -> {
                if (id.startsWith(name)) {
                    matches.add(asMap(resource.get("Properties")));
                }
            });
            if (matches.size() != 1) {
                failures.add("expected one function " + name + ", found " + matches.size());
                continue;
            }
            Map<String, Object> props = matches.get(0);
            Object expectedLayers = List.of(Map.of("Ref", String.valueOf(layerId)));
            if (!expectedLayers.equals(props.get("Layers"))) {
                failures.add(name + ": Layers is " + props.get("Layers") + ", expected " + expectedLayers);
            }
            Object url = asMap(asMap(props.get("Environment")).get("Variables")).get("OPA_URL");
            if (!"http://127.0.0.1:8181".equals(url)) {
                failures.add(name + ": OPA_URL is " + url + ", expected http://127.0.0.1:8181");
            } else {
                System.out.println("java: " + name + " has layer " + layerId + " and OPA_URL=" + url);
            }
        }
        failures.forEach(f -> System.err.println("java: FAIL " + f));
        System.exit(failures.isEmpty() ? 0 : 1);
    }

    private static Function function(final Stack stack, final String id) {
        return Function.Builder.create(stack, id)
                .runtime(Runtime.NODEJS_20_X)
                .handler("index.handler")
                .code(Code.fromInline(HANDLER))
                .build();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(final Object value) {
        return value instanceof Map ? (Map<String, Object>) value : Map.of();
    }
}
