"""Smoke test of the Python package built by jsii-pacmak (dist/python).

A CDK app a Python user would write: the OPA layer with an embedded bundle, attached to one
Node.js function with add_layers (the layer's aspect sets OPA_URL) and to another with
add_to_function. It synthesizes the stack and checks the template; any mismatch exits non-zero.

    OPA_SMOKE_BUNDLE=/path/to/bundle.tar.gz python app.py
"""
import os
import sys

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from opa_lambda_extension import OpaBundle, OpaExtensionLayer

HANDLER = "exports.handler = async () => ({ statusCode: 200 });"


def main() -> int:
    app = cdk.App()
    stack = cdk.Stack(app, "OpaSmoke")
    opa = OpaExtensionLayer(stack, "Opa", bundle=OpaBundle.from_asset(os.environ["OPA_SMOKE_BUNDLE"], name="authz"))
    by_layers = lambda_.Function(stack, "ByLayers", runtime=lambda_.Runtime.NODEJS_20_X,
                                 handler="index.handler", code=lambda_.Code.from_inline(HANDLER))
    by_layers.add_layers(opa)
    by_call = lambda_.Function(stack, "ByCall", runtime=lambda_.Runtime.NODEJS_20_X,
                               handler="index.handler", code=lambda_.Code.from_inline(HANDLER))
    opa.add_to_function(by_call)

    template = Template.from_stack(stack)
    failures = []
    layers = template.find_resources("AWS::Lambda::LayerVersion")
    if len(layers) != 1:
        failures.append(f"expected one AWS::Lambda::LayerVersion, found {sorted(layers)}")
    layer_id = next(iter(layers), None)
    functions = template.find_resources("AWS::Lambda::Function")
    for name in ("ByLayers", "ByCall"):
        matches = [p for logical_id, r in functions.items() if logical_id.startswith(name) for p in [r["Properties"]]]
        if len(matches) != 1:
            failures.append(f"expected one function {name}, found {len(matches)}")
            continue
        props = matches[0]
        if props.get("Layers") != [{"Ref": layer_id}]:
            failures.append(f"{name}: Layers is {props.get('Layers')}, expected [{{'Ref': '{layer_id}'}}]")
        url = props.get("Environment", {}).get("Variables", {}).get("OPA_URL")
        if url != "http://127.0.0.1:8181":
            failures.append(f"{name}: OPA_URL is {url!r}, expected 'http://127.0.0.1:8181'")
        else:
            print(f"python: {name} has layer {layer_id} and OPA_URL={url}")
    for f in failures:
        print(f"python: FAIL {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
