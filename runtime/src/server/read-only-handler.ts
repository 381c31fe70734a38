/**
 * The extension's store is read-only: policies and data come from bundles, compiled to Wasm, and
 * are replaced only by bundle activation. OPA accepts `PUT`/`PATCH`/`DELETE` on `/v1/data` and
 * `/v1/policies` (and refuses writes under a bundle's roots with 400); here every write is
 * refused with 405 and a message that says why, so a misdirected client fails loudly. The policy
 * API is not served at all (not even `GET`): the bundles hold Wasm, not the Rego OPA would list.
 */
import { ApiError } from './errors';
import { Handler } from './routes';

export function readOnlyHandler(what: 'data' | 'policies', allowed: readonly string[]): Handler {
  return (request) => {
    const method = request.raw.method ?? '';
    throw new ApiError(405, 'method_not_allowed',
      `${method} /v1/${what} is not supported: the OPA Lambda extension is read-only, its policies and data come from bundles`,
      { headers: { Allow: allowed.join(', ') } });
  };
}
