import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { OpaBundle, OpaExtensionLayer } from '../../src';
import { functionProperties, newFunction, roleStatements } from '../support/construct-helpers';

function newStack(): Stack {
  return new Stack(new App(), 'Stack');
}

/** The one statement a role gets for a bundle at `key` in the bucket: that object, read. */
function getObjectStatement(stack: Stack, bucket: s3.IBucket, key: string): unknown {
  const bucketArn = { 'Fn::GetAtt': [stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket), 'Arn'] };
  return { Action: 's3:GetObject', Effect: 'Allow', Resource: { 'Fn::Join': ['', [bucketArn, `/${key}`]] } };
}

function decryptStatement(stack: Stack, key: kms.IKey): unknown {
  return { Action: 'kms:Decrypt', Effect: 'Allow', Resource: { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] } };
}

describe('grants to the functions\' roles', () => {
  test('GIVEN a bundle in S3 THEN the role may s3:GetObject on that object and nothing else', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Policies');
    const fn = newFunction(stack);

    fn.addLayers(new OpaExtensionLayer(stack, 'Opa', { bundle: OpaBundle.fromBucket(bucket, 'bundles/authz.tar.gz') }));

    expect(roleStatements(fn)).toEqual([getObjectStatement(stack, bucket, 'bundles/authz.tar.gz')]);
    // The bucket's policy is left alone: the role is in the bucket's account.
    Template.fromStack(stack).resourceCountIs('AWS::S3::BucketPolicy', 0);
  });

  test('GIVEN a bundle in a bucket encrypted with a customer-managed KMS key THEN the role may also kms:Decrypt with that key', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    const bucket = new s3.Bucket(stack, 'Policies', { encryption: s3.BucketEncryption.KMS, encryptionKey: key });
    const fn = newFunction(stack);

    new OpaExtensionLayer(stack, 'Opa', { bundle: OpaBundle.fromBucket(bucket, 'authz.tar.gz') }).addToFunction(fn);

    expect(roleStatements(fn)).toEqual([getObjectStatement(stack, bucket, 'authz.tar.gz'), decryptStatement(stack, key)]);
  });

  test('GIVEN an imported bucket THEN the role may s3:GetObject on the object ARN built from its name', () => {
    const stack = newStack();
    const bucket = s3.Bucket.fromBucketName(stack, 'Policies', 'company-policies');
    const fn = newFunction(stack);

    fn.addLayers(new OpaExtensionLayer(stack, 'Opa', { bundle: OpaBundle.fromBucket(bucket, 'authz.tar.gz') }));

    expect(roleStatements(fn)).toEqual([{
      Action: 's3:GetObject',
      Effect: 'Allow',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::company-policies/authz.tar.gz']] },
    }]);
  });

  test('GIVEN two bundles in S3 THEN the role may read each object', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Policies');
    const fn = newFunction(stack);

    fn.addLayers(new OpaExtensionLayer(stack, 'Opa', {
      bundles: [OpaBundle.fromBucket(bucket, 'authz.tar.gz'), OpaBundle.fromBucket(bucket, 'rbac.tar.gz')],
    }));

    expect(roleStatements(fn)).toEqual([getObjectStatement(stack, bucket, 'authz.tar.gz'), getObjectStatement(stack, bucket, 'rbac.tar.gz')]);
  });

  test('GIVEN a bundle server, decision logs and status, which go to URLs THEN the role gets nothing', () => {
    const stack = newStack();
    const fn = newFunction(stack);

    fn.addLayers(new OpaExtensionLayer(stack, 'Opa', {
      bundle: OpaBundle.fromUrl('https://bundles.example.com', 'authz.tar.gz'),
      decisionLogs: { url: 'https://logs.example.com' },
      status: { url: 'https://status.example.com' },
    }));

    Template.fromStack(stack).resourceCountIs('AWS::IAM::Policy', 0);
  });

  test('GIVEN grantPermissions: false THEN the role gets nothing, and the function still gets the layer and its variables', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Policies');
    const fn = newFunction(stack);
    const opa = new OpaExtensionLayer(stack, 'Opa', { bundle: OpaBundle.fromBucket(bucket, 'authz.tar.gz'), grantPermissions: false });

    fn.addLayers(opa);
    opa.addToFunction(newFunction(stack, 'Other'));

    Template.fromStack(stack).resourceCountIs('AWS::IAM::Policy', 0);
    expect(Object.keys(functionProperties(fn).Environment.Variables).sort()).toEqual(['OPA_AUTHZ_BUCKET_URL', 'OPA_URL']);
  });
});

describe('grantRead', () => {
  test('GIVEN grantPermissions: false WHEN opa.grantRead(role) THEN that role gets exactly what a function\'s role would', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    const bucket = new s3.Bucket(stack, 'Policies', { encryptionKey: key });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const opa = new OpaExtensionLayer(stack, 'Opa', { bundle: OpaBundle.fromBucket(bucket, 'authz.tar.gz'), grantPermissions: false });

    const grant = opa.grantRead(role);

    expect(grant.success).toBe(true);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: stack.getLogicalId(role.node.defaultChild as iam.CfnRole) }],
      PolicyDocument: { Statement: [getObjectStatement(stack, bucket, 'authz.tar.gz'), decryptStatement(stack, key)] },
    });
    expect(grant.principalStatements.map((s) => s.toStatementJson().Action)).toEqual(['s3:GetObject', 'kms:Decrypt']);
  });

  test('GIVEN a layer whose sources need no permission WHEN opa.grantRead(role) THEN the grant is dropped and adds nothing', () => {
    const stack = newStack();
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const opa = new OpaExtensionLayer(stack, 'Opa', { bundle: OpaBundle.fromUrl('https://bundles.example.com', 'authz.tar.gz') });

    const grant = opa.grantRead(role);

    // As iam.Grant.drop: nothing was needed, so nothing was added.
    expect(grant.success).toBe(false);
    expect(grant.principalStatements).toEqual([]);
    Template.fromStack(stack).resourceCountIs('AWS::IAM::Policy', 0);
  });
});
