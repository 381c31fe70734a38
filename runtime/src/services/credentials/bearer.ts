// `fs.promises`, not `node:fs/promises`: the getter loads the promise API on first use, not at start-up.
import { promises as fsPromises } from 'node:fs';
import type { CredentialsStrategy, ServiceCredentials } from './credentials-strategy';
import { parseTokenSource, TokenSource, tokenSourceService } from './token-source';
import { ConfigError, errorMessage } from '../../errors';

/** `credentials.bearer` (https://www.openpolicyagent.org/docs/configuration#bearer-token). */
export interface BearerCredentials extends ServiceCredentials {
  readonly type: 'bearer';
  /** The token itself, or a file holding it (read at each request, so it can rotate). */
  readonly token?: string;
  readonly tokenPath?: string;
  /** A secret holding it (`token_from`, this extension's own key): read at init, again on a 401 or 403. */
  readonly tokenFrom?: TokenSource;
  /** @default 'Bearer' */
  readonly scheme: string;
}

/** OPA's default for `scheme`. */
export const DEFAULT_BEARER_SCHEME = 'Bearer';

/** Sends `Authorization: <scheme> <token>`. */
export const BEARER_STRATEGY: CredentialsStrategy<BearerCredentials> = {
  key: 'bearer',

  parse(section, key) {
    const { token, token_path: tokenPath, token_from: rawTokenFrom, scheme = DEFAULT_BEARER_SCHEME } = section;
    // The value is left out of this message: it may be the token.
    if (token !== undefined && typeof token !== 'string') throw new ConfigError(`${key}.token must be a string`);
    if (tokenPath !== undefined && typeof tokenPath !== 'string') throw new ConfigError(`${key}.token_path must be a string, got ${JSON.stringify(tokenPath)}`);
    const given = [['token', token], ['token_path', tokenPath], ['token_from', rawTokenFrom]].filter(([, v]) => v !== undefined).map(([k]) => k);
    if (given.length === 0) throw new ConfigError(`${key} needs token, token_path or token_from`);
    if (rawTokenFrom !== undefined && given.length > 1) throw new ConfigError(`${key} takes one of token, token_path and token_from, got ${given.join(' and ')}`);
    const tokenFrom = rawTokenFrom === undefined ? undefined : parseTokenSource(rawTokenFrom, `${key}.token_from`);
    if (typeof scheme !== 'string' || !scheme) throw new ConfigError(`${key}.scheme must be a non-empty string, got ${JSON.stringify(scheme)}`);
    return { type: 'bearer', token, tokenPath, tokenFrom, scheme };
  },

  authorizer({ token, tokenPath, tokenFrom, scheme }, context) {
    if (tokenFrom !== undefined) {
      // Checked now, so that an environment without credentials or a region fails init as a
      // configuration error instead of every request later.
      try {
        context.awsCredentials();
        context.awsEndpoint(tokenSourceService(tokenFrom));
      } catch (err) {
        throw new ConfigError(`${tokenFrom.key} reads ${tokenSourceService(tokenFrom).name} with the function's credentials: ${errorMessage(err)}`, { cause: err });
      }
      // The read starts now, during init, and runs beside the rest of it; requests wait for it.
      const secret = loadSecretToken().secretToken(tokenFrom, context);
      return {
        async prepare(request) {
          request.headers.authorization = `${scheme} ${await secret.get(request.signal)}`;
        },
        refresh: (signal) => secret.refresh(signal),
      };
    }
    return {
      async prepare(request) {
        // token_path is read at each request so a rotated token is picked up (OPA does the same).
        const current = tokenPath !== undefined ? (await fsPromises.readFile(tokenPath, 'utf8')).trim() : token;
        request.headers.authorization = `${scheme} ${current}`;
      },
    };
  },
};

/**
 * The module that reads secrets, evaluated on first use: a layer whose configuration has no
 * `token_from` never runs its body (esbuild wraps a module reached only this way in a lazy
 * initializer). A `require` rather than `import()`: with `module: node16` TypeScript keeps an
 * `import()` native in this CommonJS code, which jest's module sandbox cannot run.
 */
function loadSecretToken(): typeof import('./secret-token') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./secret-token') as typeof import('./secret-token');
}
