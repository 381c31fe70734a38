/**
 * cdk-nag's AwsSolutions pack on the example apps: no unsuppressed error or warning, and every
 * suppression carries a written reason (cdk-nag itself refuses one shorter than 10 characters).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, NagSuppressions } from 'cdk-nag';
import { AuthorizedFunctionStack } from '../../examples/app';
import { BucketPolicyStack } from '../../examples/s3-app';
import { buildAuthz } from '../support/authz-bundles';

let workDir: string;
let bundleFile: string;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-nag-test-'));
  bundleFile = path.join(workDir, 'bundle.tar.gz');
  // A real bundle: the construct checks every embedded bundle at synth.
  fs.writeFileSync(bundleFile, await buildAuthz('r1'));
});

afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

const LAMBDA_SUPPRESSIONS = [
  {
    id: 'AwsSolutions-IAM4',
    reason: 'AWSLambdaBasicExecutionRole is the narrowest managed policy that lets the function and the extension write their logs to CloudWatch; it grants nothing else.',
    appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
  },
  {
    id: 'AwsSolutions-L1',
    reason: 'The examples run on Node.js 20 on purpose: the oldest runtime the extension supports, and the Node.js the local emulator and the demo run them with.',
  },
];

/** Each example app, built into `app`, with its documented suppressions. */
const EXAMPLES: Record<string, (app: App) => Stack> = {
  'embedded bundle (examples/app.ts)': (app) => {
    const stack = new AuthorizedFunctionStack(app, 'OpaExample', { bundleFile });
    NagSuppressions.addResourceSuppressions(stack.fn, LAMBDA_SUPPRESSIONS, true);
    return stack;
  },
  'bundle from S3 with decision logs (examples/s3-app.ts)': (app) => {
    const stack = new BucketPolicyStack(app, 'OpaS3Example');
    NagSuppressions.addResourceSuppressions(stack.fn, [
      ...LAMBDA_SUPPRESSIONS,
      {
        id: 'AwsSolutions-IAM5',
        reason: 'OpaBundle.fromBucket grants bucket.grantRead on the one bundle key: CDK\'s read grant names its actions with wildcards (s3:GetObject*, s3:GetBucket*, s3:List*) but every resource is this bucket or its key.',
        appliesTo: ['Action::s3:GetObject*', 'Action::s3:GetBucket*', 'Action::s3:List*'],
      },
    ], true);
    NagSuppressions.addResourceSuppressions(stack.bucket, [{
      id: 'AwsSolutions-S1',
      reason: 'The bucket only holds policy bundles the function reads; the example keeps to one bucket, and a deployment that audits reads turns on server access logs or CloudTrail data events to a log bucket of its own.',
    }]);
    return stack;
  },
};

/** The example's stack with the pack applied (verbose: findings name their rule). */
function checked(build: (app: App) => Stack): Stack {
  const app = new App();
  const stack = build(app);
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  app.synth();
  return stack;
}

describe.each(Object.entries(EXAMPLES))('cdk-nag AwsSolutions on the example app: %s', (_name, build) => {
  test('GIVEN the example stack WHEN the pack runs THEN it reports no unsuppressed error', () => {
    const errors = Annotations.fromStack(checked(build)).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${String(e.entry.data)}`)).toEqual([]);
  });

  test('GIVEN the example stack WHEN the pack runs THEN it reports no unsuppressed warning', () => {
    const warnings = Annotations.fromStack(checked(build)).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(warnings.map((w) => `${w.id}: ${String(w.entry.data)}`)).toEqual([]);
  });
});

describe('cdk-nag AwsSolutions without suppressions', () => {
  test('GIVEN the embedded-bundle example WHEN nothing is suppressed THEN the pack finds what the example suppresses', () => {
    const app = new App();
    const stack = new AuthorizedFunctionStack(app, 'OpaExample', { bundleFile });
    Aspects.of(app).add(new AwsSolutionsChecks());
    app.synth();
    const ids = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))
      .map((e) => String(e.entry.data).match(/^AwsSolutions-[A-Za-z0-9]+/)?.[0]);
    expect(new Set(ids)).toEqual(new Set(['AwsSolutions-IAM4', 'AwsSolutions-L1']));
  });
});
