import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';

/**
 * Lets the grantee read one object and nothing else: `s3:GetObject` on that object's ARN (the
 * extension's conditional GET needs no more; `bucket.grantRead` would add `s3:List*` and
 * `s3:GetBucket*` on the whole bucket), plus `kms:Decrypt` on the bucket's key when it is encrypted
 * with a customer-managed key, which S3 needs to decrypt the object for the reader. As the bucket's
 * own grants do, the statement goes on the grantee's policy, or on the bucket's policy too when the
 * grantee is in another account.
 */
export function grantReadObject(grantee: iam.IGrantable, bucket: s3.IBucket, key: string): iam.Grant {
  const grant = iam.Grant.addToPrincipalOrResource({
    grantee,
    actions: ['s3:GetObject'],
    resourceArns: [bucket.arnForObjects(key)],
    resource: bucket,
  });
  return bucket.encryptionKey ? grant.combine(bucket.encryptionKey.grantDecrypt(grantee)) : grant;
}
