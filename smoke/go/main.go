// Smoke test of the Go module built by jsii-pacmak (dist/go). A CDK app a Go user would write: an
// OPA layer with two bundles, one compiled from Rego at synth (OpaBundle_FromRego, checked against
// Queries) and one downloaded from a bundle server with a token kept in Secrets Manager; attached
// with AddLayers, AddToFunctions and AddToAllFunctions. It synthesizes the stack and checks the
// template (the layer, each function's Layers and environment, the secret's grant scoped to its
// ARN), the layer's folder (the bundle embedded, the token read from the secret), and that a query
// no entrypoint answers fails synth. A second stack attaches the layer to functions whose runtime
// has no node (Python 3.13 on x86_64, provided.al2023 on arm64): each also gets the Node.js layer of
// its architecture, and an Amazon Linux 2 runtime is refused. Any mismatch exits non-zero. The Rego
// folder, the OPA CLI and the folder holding the node-linux-* packages come from the
// OPA_SMOKE_POLICY, OPA_SMOKE_OPA and OPA_SMOKE_NODE_PACKAGES environment variables.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/example/opa-lambda-extension-go/opalambdaextension"
)

const (
	handler = "exports.handler = async () => ({ statusCode: 200 });"
	opaURL  = "http://127.0.0.1:8181"
)

type object = map[string]interface{}

var failures []string

func check(ok bool, format string, args ...interface{}) bool {
	if !ok {
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	return ok
}

// asMap reads a JSON object of the template (FindResources gives each resource as a pointer).
func asMap(v interface{}) object {
	switch m := v.(type) {
	case object:
		return m
	case *object:
		if m != nil {
			return *m
		}
	}
	return object{}
}

func absEnv(name string) string {
	p, err := filepath.Abs(os.Getenv(name))
	if err != nil {
		panic(err)
	}
	return p
}

func newFunction(scope constructs.Construct, id string) awslambda.Function {
	return awslambda.NewFunction(scope, jsii.String(id), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_NODEJS_20_X(),
		Handler: jsii.String("index.handler"),
		Code:    awslambda.Code_FromInline(jsii.String(handler)),
	})
}

func regoBundle() opalambdaextension.OpaBundle {
	return opalambdaextension.OpaBundle_FromRego(jsii.String(absEnv("OPA_SMOKE_POLICY")), &opalambdaextension.OpaRegoBundleOptions{
		Entrypoints: jsii.Strings("app/authz/allow"),
		Name:        jsii.String("authz"),
		OpaBinary:   jsii.String(absEnv("OPA_SMOKE_OPA")),
	})
}

// only returns the one resource whose logical id starts with prefix, with its properties.
func only(resources map[string]*object, prefix string) (string, object) {
	var ids []string
	for id := range resources {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	if !check(len(ids) == 1, "expected one resource %s*, found %v", prefix, ids) {
		return "", object{}
	}
	return ids[0], asMap(asMap(resources[ids[0]])["Properties"])
}

// roleStatements returns the statements of every AWS::IAM::Policy attached to the role (to any
// role when roleID is empty).
func roleStatements(template assertions.Template, roleID string) []interface{} {
	statements := []interface{}{}
	for _, policy := range *template.FindResources(jsii.String("AWS::IAM::Policy"), nil) {
		props := asMap(asMap(policy)["Properties"])
		roles, _ := props["Roles"].([]interface{})
		attached := roleID == ""
		for _, role := range roles {
			attached = attached || reflect.DeepEqual(role, object{"Ref": roleID})
		}
		if attached {
			list, _ := asMap(props["PolicyDocument"])["Statement"].([]interface{})
			statements = append(statements, list...)
		}
	}
	return statements
}

func contains(list []interface{}, v interface{}) bool {
	for _, item := range list {
		if reflect.DeepEqual(item, v) {
			return true
		}
	}
	return false
}

// checkLayerContents reads the layer's folder in the cloud assembly: the Rego bundle embedded, the
// remote one's token read from the secret.
func checkLayerContents(outdir string, layer object) {
	key := fmt.Sprint(asMap(asMap(layer["Properties"])["Content"])["S3Key"])
	folder := filepath.Join(outdir, "asset."+strings.TrimSuffix(key, ".zip"), "opa-extension")
	embedded := filepath.Join(folder, "bundles", "authz.tar")
	info, err := os.Stat(embedded)
	check(err == nil && info.Mode().IsRegular() && info.Size() > 0, "layer: no embedded bundle at %s", embedded)
	var config object
	text, err := os.ReadFile(filepath.Join(folder, "config.json"))
	if !check(err == nil && json.Unmarshal(text, &config) == nil, "layer: cannot read config.json in %s", folder) {
		return
	}
	tokenFrom := asMap(asMap(asMap(asMap(config["services"])["bundles_rbac"])["credentials"])["bearer"])["token_from"]
	expected := object{"secrets_manager": object{"secret_id": "${OPA_BUNDLES_RBAC_TOKEN_SECRET}", "json_field": "token"}}
	check(reflect.DeepEqual(tokenFrom, expected), "layer: token_from is %v, expected %v", tokenFrom, expected)
	var names []string
	for name := range asMap(config["bundles"]) {
		names = append(names, name)
	}
	sort.Strings(names)
	check(reflect.DeepEqual(names, []string{"rbac"}), "layer: config bundles are %v, expected [rbac]", names)
	fmt.Printf("go: layer embeds authz.tar (inflated at synth); rbac's token comes from %v\n", tokenFrom)
}

// checkUnansweredQuery expects synth to fail for a query no entrypoint of the Rego bundle answers
// (jsii raises the construct's error as a panic).
func checkUnansweredQuery() {
	defer func() {
		message := fmt.Sprint(recover())
		if check(strings.Contains(message, "'app/billing/allow' is answered by no entrypoint") && strings.Contains(message, "'app/authz/allow'"),
			"unexpected error for an unanswered query: %s", message) {
			fmt.Printf("go: an unanswered query fails synth: %s\n", strings.SplitN(message, "\n", 2)[0])
		}
	}()
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Unanswered"), nil)
	opalambdaextension.NewOpaExtensionLayer(stack, jsii.String("Opa"), &opalambdaextension.OpaExtensionLayerProps{
		Bundle:  regoBundle(),
		Queries: jsii.Strings("app/billing/allow"),
	})
}

func run() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("OpaSmoke"), nil)
	token := awssecretsmanager.NewSecret(stack, jsii.String("BundleToken"), nil)
	opa := opalambdaextension.NewOpaExtensionLayer(stack, jsii.String("Opa"), &opalambdaextension.OpaExtensionLayerProps{
		Bundles: &[]opalambdaextension.OpaBundle{
			regoBundle(),
			opalambdaextension.OpaBundle_FromUrl(jsii.String("https://bundles.example.com"), jsii.String("bundles/rbac.tar.gz"),
				&opalambdaextension.OpaUrlBundleOptions{
					BearerTokenSecret: opalambdaextension.OpaSecret_FromSecretsManager(token,
						&opalambdaextension.OpaSecretsManagerOptions{JsonField: jsii.String("token")}),
				}),
		},
		Queries: jsii.Strings("app/authz/allow"),
	})
	newFunction(stack, "ByLayers").AddLayers(opa)
	opa.AddToFunctions(newFunction(stack, "ByCallA"), newFunction(stack, "ByCallB"))
	team := constructs.NewConstruct(stack, jsii.String("Team"))
	newFunction(team, "ByAspect")
	opa.AddToAllFunctions(team)
	newFunction(stack, "Plain")
	reader := awsiam.NewRole(stack, jsii.String("Reader"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
	})
	opa.GrantRead(reader)

	template := assertions.Template_FromStack(stack, nil)
	layers := *template.FindResources(jsii.String("AWS::Lambda::LayerVersion"), nil)
	layerID := ""
	for id := range layers {
		layerID = id
	}
	check(len(layers) == 1, "expected one AWS::Lambda::LayerVersion, found %d", len(layers))
	secretID, _ := only(*template.FindResources(jsii.String("AWS::SecretsManager::Secret"), nil), "BundleToken")
	secretGrant := object{"Action": "secretsmanager:GetSecretValue", "Effect": "Allow", "Resource": object{"Ref": secretID}}
	// OPA_URL, and the variables the layer's config reads: the bundle server's URL and the secret's id.
	environment := object{"OPA_URL": opaURL, "OPA_RBAC_BUNDLE_URL": "https://bundles.example.com",
		"OPA_BUNDLES_RBAC_TOKEN_SECRET": object{"Ref": secretID}}
	functions := *template.FindResources(jsii.String("AWS::Lambda::Function"), nil)
	for _, name := range []string{"ByLayers", "ByCallA", "ByCallB", "TeamByAspect"} {
		_, props := only(functions, name)
		variables := asMap(props["Environment"])["Variables"]
		check(reflect.DeepEqual(props["Layers"], []interface{}{object{"Ref": layerID}}), "%s: Layers is %v, expected [Ref %s]", name, props["Layers"], layerID)
		check(reflect.DeepEqual(variables, environment), "%s: environment is %v, expected %v", name, variables, environment)
		getAtt, _ := asMap(props["Role"])["Fn::GetAtt"].([]interface{})
		roleID := ""
		if len(getAtt) > 0 {
			roleID = fmt.Sprint(getAtt[0])
		}
		if check(roleID != "" && contains(roleStatements(template, roleID), secretGrant), "%s: role %s lacks %v", name, roleID, secretGrant) {
			fmt.Printf("go: %s has layer %s, OPA_URL=%s, GetSecretValue on %s only\n", name, layerID, opaURL, secretID)
		}
	}
	_, plain := only(functions, "Plain")
	_, hasLayers := plain["Layers"]
	_, hasEnvironment := plain["Environment"]
	check(!hasLayers && !hasEnvironment, "Plain: expected no layer and no environment, got %v", plain)
	readerID, _ := only(*template.FindResources(jsii.String("AWS::IAM::Role"), nil), "Reader")
	check(reflect.DeepEqual(roleStatements(template, readerID), []interface{}{secretGrant}),
		"Reader: GrantRead gave %v, expected [%v]", roleStatements(template, readerID), secretGrant)
	checkLayerContents(*app.Outdir(), asMap(layers[layerID]))
	for _, statement := range roleStatements(template, "") {
		if strings.Contains(fmt.Sprint(asMap(statement)["Action"]), "secretsmanager") {
			check(reflect.DeepEqual(statement, secretGrant), "a secretsmanager statement not scoped to %s: %v", secretID, statement)
		}
	}

	// Queries is checked at synth against the entrypoints of the bundle built from Rego.
	checkUnansweredQuery()
	checkOtherRuntimes()
}

// checkOtherRuntimes: functions whose runtime has no node get the Node.js layer of their
// architecture beside the OPA layer; an Amazon Linux 2 runtime is refused with the runtime to use.
func checkOtherRuntimes() {
	app := awscdk.NewApp(&awscdk.AppProps{
		Context: &map[string]interface{}{"opa-lambda-extension:nodePackagesDir": absEnv("OPA_SMOKE_NODE_PACKAGES")},
	})
	stack := awscdk.NewStack(app, jsii.String("AnyRuntime"), nil)
	opa := opalambdaextension.NewOpaExtensionLayer(stack, jsii.String("Opa"), &opalambdaextension.OpaExtensionLayerProps{Bundle: regoBundle()})
	pythonCode := awslambda.Code_FromInline(jsii.String("def handler(event, context):\n    return 200\n"))
	awslambda.NewFunction(stack, jsii.String("Python"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_PYTHON_3_13(), Handler: jsii.String("index.handler"), Code: pythonCode,
	}).AddLayers(opa)
	// An OS-only function: its code is a `bootstrap` program, in a folder under TMPDIR.
	code, err := os.MkdirTemp("", "bootstrap")
	if err == nil {
		err = os.WriteFile(filepath.Join(code, "bootstrap"), []byte("#!/bin/sh\nexec sleep infinity\n"), 0o755)
	}
	if !check(err == nil, "cannot write the bootstrap program: %v", err) {
		return
	}
	opa.AddToFunction(awslambda.NewFunction(stack, jsii.String("OsOnly"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_PROVIDED_AL2023(), Architecture: awslambda.Architecture_ARM_64(),
		Handler: jsii.String("bootstrap"), Code: awslambda.Code_FromAsset(jsii.String(code), nil),
	}))
	template := assertions.Template_FromStack(stack, nil)
	layers := *template.FindResources(jsii.String("AWS::Lambda::LayerVersion"), nil)
	var opaIDs []string
	for id := range layers {
		if !strings.HasPrefix(id, "OpaNodeRuntime") {
			opaIDs = append(opaIDs, id)
		}
	}
	if !check(len(opaIDs) == 1, "expected one OPA layer beside the Node.js layers, found %v", opaIDs) {
		return
	}
	functions := *template.FindResources(jsii.String("AWS::Lambda::Function"), nil)
	for _, pair := range [][2]string{{"Python", "x8664"}, {"OsOnly", "arm64"}} {
		name := pair[0]
		nodeID, _ := only(layers, "OpaNodeRuntime"+pair[1])
		_, props := only(functions, name)
		expected := []interface{}{object{"Ref": opaIDs[0]}, object{"Ref": nodeID}}
		check(reflect.DeepEqual(props["Layers"], expected), "%s: Layers is %v, expected %v", name, props["Layers"], expected)
		url := asMap(asMap(props["Environment"])["Variables"])["OPA_URL"]
		if check(url == opaURL, "%s: OPA_URL is %v", name, url) {
			fmt.Printf("go: %s (%v) has layers %s and %s, OPA_URL=%s\n", name, props["Runtime"], opaIDs[0], nodeID, opaURL)
		}
	}
	old := awslambda.NewFunction(stack, jsii.String("Old"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_PYTHON_3_11(), Handler: jsii.String("index.handler"), Code: pythonCode,
	})
	defer func() {
		message := fmt.Sprint(recover())
		if check(strings.Contains(message, "runtime python3.11 runs on Amazon Linux 2") && strings.Contains(message, "use python3.12 or newer"),
			"unexpected error for python3.11: %s", message) {
			fmt.Printf("go: an Amazon Linux 2 runtime is refused: %s\n", strings.SplitN(message, "\n", 2)[0])
		}
	}()
	opa.AddToFunction(old)
}

func main() {
	run()
	jsii.Close()
	for _, f := range failures {
		fmt.Fprintf(os.Stderr, "go: FAIL %s\n", f)
	}
	if len(failures) > 0 {
		os.Exit(1)
	}
}
