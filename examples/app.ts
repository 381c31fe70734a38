/**
 * The example CDK app: one function with the OPA extension layer and an embedded policy bundle.
 * A user would import from 'opa-lambda-extension'; the example imports the source so that the demo
 * runs what is in this repository.
 *
 *   opa build -t wasm -e app/authz/allow -e app/authz/reasons -o policy/bundle.tar.gz policy/
 *   cdk deploy --app 'npx ts-node app.ts'
 */
import * as path from 'node:path';
import { App, Stack, StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { OpaBundle, OpaExtensionLayer } from '../src';

export const BUNDLE_FILE = path.join(__dirname, 'policy', 'bundle.tar.gz');

export interface AuthorizedFunctionStackProps extends StackProps {
  /** The compiled policy bundle; the demo builds it at BUNDLE_FILE. */
  readonly bundleFile?: string;
}

export class AuthorizedFunctionStack extends Stack {
  public readonly fn: lambda.Function;
  public readonly opa: OpaExtensionLayer;

  public constructor(scope: Construct, id: string, props: AuthorizedFunctionStackProps = {}) {
    super(scope, id, props);
    this.opa = new OpaExtensionLayer(this, 'Opa', {
      bundle: OpaBundle.fromAsset(props.bundleFile ?? BUNDLE_FILE, { name: 'authz' }),
      labels: { app: 'opa-example' },
    });
    this.fn = new lambda.Function(this, 'Handler', {
      runtime: lambda.Runtime.NODEJS_20_X,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(path.join(__dirname, 'handler')),
      memorySize: 256,
    });
    // The layer's aspect sees this and sets OPA_URL on the function.
    this.fn.addLayers(this.opa);
  }
}

if (require.main === module) {
  const app = new App();
  new AuthorizedFunctionStack(app, 'OpaExample');
  app.synth();
}
