// Smoke test of the Go module built by jsii-pacmak (dist/go): the OPA layer with an embedded
// bundle, attached to one Node.js function with AddLayers (the layer's aspect sets OPA_URL) and to
// another with AddToFunction. It synthesizes the stack and checks the template; any mismatch exits
// non-zero. The bundle's path comes from the OPA_SMOKE_BUNDLE environment variable.
package main

import (
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
	"github.com/example/opa-lambda-extension-go/opalambdaextension"
)

const handler = "exports.handler = async () => ({ statusCode: 200 });"

func newFunction(stack awscdk.Stack, id string) awslambda.Function {
	return awslambda.NewFunction(stack, jsii.String(id), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_NODEJS_20_X(),
		Handler: jsii.String("index.handler"),
		Code:    awslambda.Code_FromInline(jsii.String(handler)),
	})
}

func asMap(v interface{}) map[string]interface{} {
	switch m := v.(type) {
	case map[string]interface{}:
		return m
	case *map[string]interface{}:
		if m != nil {
			return *m
		}
	}
	return map[string]interface{}{}
}

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("OpaSmoke"), nil)
	opa := opalambdaextension.NewOpaExtensionLayer(stack, jsii.String("Opa"), &opalambdaextension.OpaExtensionLayerProps{
		Bundle: opalambdaextension.OpaBundle_FromAsset(jsii.String(os.Getenv("OPA_SMOKE_BUNDLE")),
			&opalambdaextension.OpaBundleAssetOptions{Name: jsii.String("authz")}),
	})
	byLayers := newFunction(stack, "ByLayers")
	byLayers.AddLayers(opa)
	byCall := newFunction(stack, "ByCall")
	opa.AddToFunction(byCall)

	template := assertions.Template_FromStack(stack, nil)
	var failures []string
	layers := *template.FindResources(jsii.String("AWS::Lambda::LayerVersion"), nil)
	layerID := ""
	for id := range layers {
		layerID = id
	}
	if len(layers) != 1 {
		failures = append(failures, fmt.Sprintf("expected one AWS::Lambda::LayerVersion, found %d", len(layers)))
	}
	functions := *template.FindResources(jsii.String("AWS::Lambda::Function"), nil)
	for _, name := range []string{"ByLayers", "ByCall"} {
		var matches []map[string]interface{}
		for id, resource := range functions {
			if strings.HasPrefix(id, name) {
				matches = append(matches, asMap(asMap(resource)["Properties"]))
			}
		}
		if len(matches) != 1 {
			failures = append(failures, fmt.Sprintf("expected one function %s, found %d", name, len(matches)))
			continue
		}
		props := matches[0]
		expected := []interface{}{map[string]interface{}{"Ref": layerID}}
		if !reflect.DeepEqual(props["Layers"], expected) {
			failures = append(failures, fmt.Sprintf("%s: Layers is %v, expected %v", name, props["Layers"], expected))
		}
		url := asMap(asMap(props["Environment"])["Variables"])["OPA_URL"]
		if url != "http://127.0.0.1:8181" {
			failures = append(failures, fmt.Sprintf("%s: OPA_URL is %v, expected http://127.0.0.1:8181", name, url))
		} else {
			fmt.Printf("go: %s has layer %s and OPA_URL=%v\n", name, layerID, url)
		}
	}
	for _, f := range failures {
		fmt.Fprintf(os.Stderr, "go: FAIL %s\n", f)
	}
	if len(failures) > 0 {
		jsii.Close()
		os.Exit(1)
	}
}
