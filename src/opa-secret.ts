import { Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { envName, OpaSecretBinding } from './private/config-binding';

/** Options for `OpaSecret.fromSecretsManager`. */
export interface OpaSecretsManagerOptions {
  /**
   * The field of the secret that holds the token, when the secret is a JSON object
   * (`{"username": "...", "token": "..."}`).
   *
   * @default - the whole secret string is the token
   */
  readonly jsonField?: string;
}

/** Options for `OpaSecret.fromSsmParameter`. */
export interface OpaSsmParameterOptions {
  /**
   * The customer managed KMS key the `SecureString` parameter is encrypted with: the function's
   * role is granted `kms:Decrypt` on it, through SSM only.
   *
   * @default - the parameter uses the AWS managed key `aws/ssm`, which needs no grant
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * A bearer token kept in AWS Secrets Manager or in an SSM `SecureString` parameter. The
 * extension reads it during the function's init with the function's role, keeps it, and reads it
 * again once when the service answers 401 or 403 (the secret was rotated). The token is never
 * written into the layer, the function's environment or the logs: the layer's config holds only
 * where to read it.
 */
export abstract class OpaSecret {
  /**
   * A token in a Secrets Manager secret. The function's role is granted
   * `secretsmanager:GetSecretValue` on that secret only, and `kms:Decrypt` through Secrets
   * Manager when the secret is encrypted with a customer managed key.
   *
   * @param secret the secret holding the token (or a JSON object with the token in `jsonField`)
   */
  public static fromSecretsManager(secret: secretsmanager.ISecret, options: OpaSecretsManagerOptions = {}): OpaSecret {
    return new SecretsManagerSecret(secret, options);
  }

  /**
   * A token in an SSM `SecureString` parameter
   * (`ssm.StringParameter.fromSecureStringParameterAttributes`). The function's role is granted
   * `ssm:GetParameter` on that parameter only, and `kms:Decrypt` through SSM on `encryptionKey`
   * when given.
   *
   * @param parameter the parameter holding the token
   */
  public static fromSsmParameter(parameter: ssm.IParameter, options: OpaSsmParameterOptions = {}): OpaSecret {
    return new SsmParameterSecret(parameter, options);
  }

  /**
   * The config, variable and grant for the service `service`; `where` names the prop, for errors.
   *
   * @internal
   */
  public abstract _bind(where: string, service: string): OpaSecretBinding;
}

class SecretsManagerSecret extends OpaSecret {
  public constructor(private readonly secret: secretsmanager.ISecret, private readonly options: OpaSecretsManagerOptions) {
    super();
  }

  public _bind(where: string, service: string): OpaSecretBinding {
    const { jsonField } = this.options;
    if (jsonField !== undefined && !Token.isUnresolved(jsonField) && jsonField.trim() === '') {
      throw new Error(`${where}: OpaSecret.fromSecretsManager: jsonField must be a non-empty field name, got ${JSON.stringify(jsonField)}`);
    }
    const variable = envName(service, 'TOKEN_SECRET');
    // A secret's full ARN ends with a random suffix. Imported by name or partial ARN, the secret's
    // ARN lacks it: Secrets Manager finds the secret by that partial ARN, and IAM needs the
    // wildcard aws-cdk-lib uses for it too.
    const fullArn = this.secret.secretFullArn;
    const secretId = fullArn ?? this.secret.secretArn;
    const resource = fullArn ?? `${this.secret.secretArn}-??????`;
    return {
      tokenFrom: { secrets_manager: { secret_id: `\${${variable}}`, ...(jsonField !== undefined ? { json_field: jsonField } : {}) } },
      environment: { [variable]: secretId },
      grant: (grantee) => {
        iam.Grant.addToPrincipal({ grantee, actions: ['secretsmanager:GetSecretValue'], resourceArns: [resource] });
        grantDecryptVia(grantee, this.secret.encryptionKey, 'secretsmanager', this.secret.env.region);
      },
    };
  }
}

class SsmParameterSecret extends OpaSecret {
  public constructor(private readonly parameter: ssm.IParameter, private readonly options: OpaSsmParameterOptions) {
    super();
  }

  public _bind(_where: string, service: string): OpaSecretBinding {
    const variable = envName(service, 'TOKEN_PARAMETER');
    return {
      tokenFrom: { ssm_parameter: { name: `\${${variable}}` } },
      environment: { [variable]: this.parameter.parameterName },
      grant: (grantee) => {
        iam.Grant.addToPrincipal({ grantee, actions: ['ssm:GetParameter'], resourceArns: [this.parameter.parameterArn] });
        grantDecryptVia(grantee, this.options.encryptionKey, 'ssm', this.parameter.env.region);
      },
    };
  }
}

/**
 * `kms:Decrypt` on a customer managed key, only when the call comes through `service` (the
 * `kms:ViaService` condition, https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service),
 * in the role's policy: the key's policy must let IAM policies of the account grant it (the
 * default of keys made by the CDK and by KMS). An AWS managed key (none given) needs no grant.
 */
function grantDecryptVia(grantee: iam.IGrantable, key: kms.IKey | undefined, service: string, region: string): void {
  if (!key) return;
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['kms:Decrypt'],
    resourceArns: [key.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `${service}.${region}.amazonaws.com` } },
  });
}
