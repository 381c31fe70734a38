/**
 * The second example app: the policy bundle lives in S3 and is downloaded by the extension (signed
 * with SigV4 under the function's role), and decision logs are shipped to a log service.
 *
 *   opa build -t wasm -e app/authz/allow -o bundle.tar.gz policy/ && aws s3 cp bundle.tar.gz s3://<bucket>/bundles/authz.tar.gz
 *   cdk deploy --app 'npx ts-node s3-app.ts'
 */
import * as path from 'node:path';
import { App, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { OpaBundle, OpaExtensionLayer } from '../src';

/** Where the bundle is in the bucket. */
export const BUNDLE_KEY = 'bundles/authz.tar.gz';

export interface BucketPolicyStackProps extends StackProps {
  /** The log service's base URL: decision logs are POSTed to `<url>/logs`. */
  readonly decisionLogUrl?: string;
}

export class BucketPolicyStack extends Stack {
  public readonly bucket: s3.Bucket;
  public readonly fn: lambda.Function;
  public readonly opa: OpaExtensionLayer;

  public constructor(scope: Construct, id: string, props: BucketPolicyStackProps = {}) {
    super(scope, id, props);
    this.bucket = new s3.Bucket(this, 'Policies', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.opa = new OpaExtensionLayer(this, 'Opa', {
      // The function's role is granted read on the key; the extension signs with its credentials.
      bundle: OpaBundle.fromBucket(this.bucket, BUNDLE_KEY, { name: 'authz' }),
      decisionLogs: { url: props.decisionLogUrl ?? 'https://logs.example.com' },
      labels: { app: 'opa-s3-example' },
    });
    this.fn = new lambda.Function(this, 'Handler', {
      runtime: lambda.Runtime.NODEJS_20_X,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(path.join(__dirname, 'handler')),
      memorySize: 256,
    });
    this.opa.addToFunction(this.fn);
  }
}

if (require.main === module) {
  const app = new App();
  new BucketPolicyStack(app, 'OpaS3Example');
  app.synth();
}
