import type { CredentialsStrategy, ServiceCredentials } from './credentials-strategy';
import { ConfigError } from '../../errors';

/** `credentials.s3_signing` (https://www.openpolicyagent.org/docs/configuration#aws-signature). */
export interface S3SigningCredentials extends ServiceCredentials {
  readonly type: 's3_signing';
  /** Only `environment_credentials` are supported: the ones Lambda gives every extension. */
  readonly source: 'environment';
  /** The AWS service to sign for. @default 's3' */
  readonly service: string;
}

/** OPA's default for `s3_signing.service` (`awsSigv4SigningDefaultService`). */
export const DEFAULT_SIGNING_SERVICE = 's3';

/** Signs each request with AWS SigV4 and the function's credentials, read at each request. */
export const S3_SIGNING_STRATEGY: CredentialsStrategy<S3SigningCredentials> = {
  key: 's3_signing',

  parse(section, key) {
    if (section.environment_credentials === undefined) {
      const given = Object.keys(section).filter((k) => k !== 'service');
      throw new ConfigError(`${key} supports environment_credentials (the credentials Lambda gives the extension), got ${given.join(', ') || 'none'}`);
    }
    const service = section.service ?? DEFAULT_SIGNING_SERVICE;
    if (typeof service !== 'string' || !service) throw new ConfigError(`${key}.service must be a non-empty string, got ${JSON.stringify(service)}`);
    return { type: 's3_signing', source: 'environment', service };
  },

  authorizer({ service }, { awsCredentials }) {
    // Read once now so that missing credentials fail init as a configuration error instead of
    // failing every download later.
    awsCredentials();
    // The signer and its hash (with node:crypto) load here, in a layer that signs, not at every start.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { SignatureV4 } = require('@smithy/signature-v4') as typeof import('@smithy/signature-v4');
    const signer = new SignatureV4({
      service,
      region: () => Promise.resolve(awsCredentials().region),
      credentials: () => Promise.resolve(awsCredentials()),
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      sha256: (require('@smithy/hash-node') as typeof import('@smithy/hash-node')).Hash.bind(null, 'sha256'),
      // The URL's path is already percent-encoded once. S3 signs it as sent; other AWS services
      // expect it encoded a second time (SigV4 "canonical URI").
      uriEscapePath: service !== 's3',
    });
    return {
      async prepare({ method, url, headers, body }) {
        const signed = await signer.sign({
          method,
          protocol: url.protocol,
          hostname: url.hostname,
          port: url.port ? Number(url.port) : undefined,
          path: url.pathname,
          query: queryOf(url),
          headers: { ...headers, host: url.host },
          body,
        });
        Object.assign(headers, signed.headers);
      },
    };
  },
};

/** The URL's query as SigV4 takes it: a repeated key holds all its values. */
function queryOf(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? values[0] : values;
  }
  return query;
}
