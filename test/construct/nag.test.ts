/**
 * cdk-nag's AwsSolutions pack on the example app: no unsuppressed error or warning, and every
 * suppression carries a written reason (cdk-nag itself refuses one shorter than 10 characters).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, NagSuppressions } from 'cdk-nag';
import { AuthorizedFunctionStack } from '../../examples/app';

let workDir: string;
let bundleFile: string;

beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-nag-test-'));
  bundleFile = path.join(workDir, 'bundle.tar.gz');
  // The construct copies the archive as it is; cdk-nag reads only the template.
  fs.writeFileSync(bundleFile, 'not inspected at synth');
});

afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

/** The example app's stack with the pack applied and the example's documented suppressions. */
function checkedExampleStack(): Stack {
  const app = new App();
  const stack = new AuthorizedFunctionStack(app, 'OpaExample', { bundleFile });
  NagSuppressions.addResourceSuppressions(stack.fn, [
    {
      id: 'AwsSolutions-IAM4',
      reason: 'AWSLambdaBasicExecutionRole is the narrowest managed policy that lets the function and the extension write their logs to CloudWatch; it grants nothing else.',
      appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
    },
    {
      id: 'AwsSolutions-L1',
      reason: 'The example runs on Node.js 20 on purpose: the oldest runtime the extension supports, and the Node.js the local emulator and the demo run it with.',
    },
  ], true);
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  app.synth();
  return stack;
}

describe('cdk-nag AwsSolutions on the example app', () => {
  test('GIVEN the example stack WHEN the pack runs THEN it reports no unsuppressed error', () => {
    const stack = checkedExampleStack();
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${String(e.entry.data)}`)).toEqual([]);
  });

  test('GIVEN the example stack WHEN the pack runs THEN it reports no unsuppressed warning', () => {
    const stack = checkedExampleStack();
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(warnings.map((w) => `${w.id}: ${String(w.entry.data)}`)).toEqual([]);
  });

  test('GIVEN the pack WHEN no suppression is given THEN it does find the findings the example suppresses', () => {
    const app = new App();
    const stack = new AuthorizedFunctionStack(app, 'OpaExample', { bundleFile });
    Aspects.of(app).add(new AwsSolutionsChecks());
    app.synth();
    const ids = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))
      .map((e) => String(e.entry.data).match(/^AwsSolutions-[A-Za-z0-9]+/)?.[0]);
    expect(new Set(ids)).toEqual(new Set(['AwsSolutions-IAM4', 'AwsSolutions-L1']));
  });
});
