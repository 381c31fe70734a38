import { BEARER_STRATEGY } from './bearer';
import type { CredentialsStrategy } from './credentials-strategy';
import { S3_SIGNING_STRATEGY } from './s3-signing';

/**
 * Every kind of `services[_].credentials` the extension supports, in the order error messages
 * list them. OPA's other kinds (oauth2, client_tls, gcp_metadata, azure_managed_identity) are not.
 */
export const CREDENTIALS_STRATEGIES: readonly CredentialsStrategy[] = [BEARER_STRATEGY, S3_SIGNING_STRATEGY];

/** The strategy selected by `key` under `credentials` (which is also the `type` it parses to). */
export function findCredentialsStrategy(key: string): CredentialsStrategy | undefined {
  return CREDENTIALS_STRATEGIES.find((s) => s.key === key);
}
