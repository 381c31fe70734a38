import { readFile } from 'node:fs/promises';
import type { CredentialsStrategy, ServiceCredentials } from './credentials-strategy';
import { ConfigError } from '../../errors';

/** `credentials.bearer` (https://www.openpolicyagent.org/docs/configuration#bearer-token). */
export interface BearerCredentials extends ServiceCredentials {
  readonly type: 'bearer';
  /** The token itself, or a file holding it (read at each request, so it can rotate). */
  readonly token?: string;
  readonly tokenPath?: string;
  /** @default 'Bearer' */
  readonly scheme: string;
}

/** OPA's default for `scheme`. */
export const DEFAULT_BEARER_SCHEME = 'Bearer';

/** Sends `Authorization: <scheme> <token>`. */
export const BEARER_STRATEGY: CredentialsStrategy<BearerCredentials> = {
  key: 'bearer',

  parse(section, key) {
    const { token, token_path: tokenPath, scheme = DEFAULT_BEARER_SCHEME } = section;
    // The value is left out of this message: it may be the token.
    if (token !== undefined && typeof token !== 'string') throw new ConfigError(`${key}.token must be a string`);
    if (tokenPath !== undefined && typeof tokenPath !== 'string') throw new ConfigError(`${key}.token_path must be a string, got ${JSON.stringify(tokenPath)}`);
    if (token === undefined && tokenPath === undefined) throw new ConfigError(`${key} needs token or token_path`);
    if (typeof scheme !== 'string' || !scheme) throw new ConfigError(`${key}.scheme must be a non-empty string, got ${JSON.stringify(scheme)}`);
    return { type: 'bearer', token, tokenPath, scheme };
  },

  authorizer({ token, tokenPath, scheme }) {
    return {
      async prepare(request) {
        // token_path is read at each request so a rotated token is picked up (OPA does the same).
        const current = tokenPath !== undefined ? (await readFile(tokenPath, 'utf8')).trim() : token;
        request.headers.authorization = `${scheme} ${current}`;
      },
    };
  },
};
