/**
 * Reads a bearer token from AWS Secrets Manager (`GetSecretValue`) or SSM Parameter Store
 * (`GetParameter` with decryption) over their JSON protocol, signed with SigV4 and the function's
 * credentials, and keeps it for the service client.
 *
 * Only `bearer.ts` loads this module, lazily (`loadSecretToken`), when a configuration uses
 * `token_from`: esbuild keeps its body unevaluated until then, so a layer without secrets pays
 * nothing for it at init. Keep it out of every static import.
 *
 * No message here ever holds a token, a secret's value or a field's value: only the secret's id,
 * the field's name, sizes and what AWS said.
 */
import { raceAbort } from '../../abort';
import { errorMessage } from '../../errors';
import { ServiceClient } from '../service-client';
import { DEFAULT_RESPONSE_HEADER_TIMEOUT_SECONDS } from '../service-config';
import type { CredentialsContext } from './credentials-strategy';
import type { S3SigningCredentials } from './s3-signing';
import { TokenSource, tokenSourceService } from './token-source';

/** How long the read started at init may take; later reads are bounded by the request's own signal. */
export const INIT_READ_TIMEOUT_MS = 10_000;
/** Secrets Manager holds at most 64 KiB and a parameter 8 KiB: a larger answer is not one of theirs. */
const MAX_RESPONSE_BYTES = 256 * 1024;

/** A token could not be read; the message names the secret and the config key, never a value. */
export class SecretTokenError extends Error {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretTokenError';
  }
}

/**
 * One service's token: read once when made (during init), kept, and read again on `refresh`
 * (the service refused it: the secret may have rotated). A failed read is not kept, so the next
 * request reads again.
 */
export class SecretToken {
  private current?: Promise<string>;
  private refreshing?: Promise<boolean>;

  public constructor(private readonly read: (signal: AbortSignal) => Promise<string>) {
    this.current = this.load(AbortSignal.timeout(INIT_READ_TIMEOUT_MS));
  }

  /** The kept token, or a new read when the last one failed. */
  public get(signal: AbortSignal): Promise<string> {
    this.current ??= this.load(signal);
    return raceAbort(this.current, signal);
  }

  /**
   * Reads the token again and resolves to whether it changed. Requests refused at the same time
   * share one read.
   */
  public refresh(signal: AbortSignal): Promise<boolean> {
    this.refreshing ??= (async () => {
      const before = await this.current?.catch(() => undefined);
      const token = await this.read(signal);
      this.current = Promise.resolve(token);
      return token !== before;
    })().finally(() => { this.refreshing = undefined; });
    return raceAbort(this.refreshing, signal);
  }

  private load(signal: AbortSignal): Promise<string> {
    const loading = this.read(signal);
    // Handled here so a failed read at init is not an unhandled rejection; the request awaiting it sees the error.
    loading.catch(() => {
      if (this.current === loading) this.current = undefined;
    });
    return loading;
  }
}

/** A `SecretToken` for `source`; throws a `ConfigError` when the environment lacks an endpoint. */
export function secretToken(source: TokenSource, context: CredentialsContext): SecretToken {
  const service = tokenSourceService(source);
  const signingName = service.endpointPrefix;
  const client = new ServiceClient({
    name: service.name,
    url: context.awsEndpoint(service),
    headers: {},
    responseHeaderTimeoutMs: DEFAULT_RESPONSE_HEADER_TIMEOUT_SECONDS * 1000,
    // The same SigV4 signing as OPA's `s3_signing` with `service` set to another AWS service.
    credentials: { type: 's3_signing', source: 'environment', service: signingName } as S3SigningCredentials,
  }, context.awsCredentials, context.awsEndpoint);
  const call = source.kind === 'secrets_manager'
    ? { target: 'secretsmanager.GetSecretValue', operation: 'GetSecretValue', body: { SecretId: source.secretId }, id: source.secretId }
    : { target: 'AmazonSSM.GetParameter', operation: 'GetParameter', body: { Name: source.name, WithDecryption: true }, id: source.name };
  const where = `${source.key}: ${call.operation} of ${JSON.stringify(call.id)}`;

  return new SecretToken(async (signal) => {
    let response;
    try {
      response = await client.request({
        method: 'POST',
        path: '/',
        // The AWS JSON 1.1 protocol: the operation in X-Amz-Target, its input as the body.
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': call.target },
        body: Buffer.from(JSON.stringify(call.body)),
        signal,
        maxBodyBytes: MAX_RESPONSE_BYTES,
      });
    } catch (err) {
      if (signal.aborted && err === signal.reason) throw err;
      throw new SecretTokenError(`${where} failed: ${errorMessage(err)}`, { cause: err });
    }
    if (response.status !== 200) throw new SecretTokenError(`${where} failed: ${awsError(service.name, response.status, response.body)}`);
    const output = parseJson(response.body);
    return source.kind === 'secrets_manager'
      ? tokenOfSecret(output, source.jsonField, where)
      : tokenOfParameter(output, where);
  });
}

/** `SecretString`, or its `jsonField`; never echoes what it holds. */
function tokenOfSecret(output: unknown, jsonField: string | undefined, where: string): string {
  const value = (output as { SecretString?: unknown } | undefined)?.SecretString;
  if (typeof value !== 'string') {
    const binary = (output as { SecretBinary?: unknown } | undefined)?.SecretBinary !== undefined;
    throw new SecretTokenError(`${where}: the secret holds ${binary ? 'a SecretBinary' : 'no SecretString'}; store the token as a string`);
  }
  if (jsonField === undefined) return nonEmpty(value, where);
  const document = parseJson(Buffer.from(value));
  if (document === undefined || typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new SecretTokenError(`${where}: json_field ${JSON.stringify(jsonField)} is set but the secret is not a JSON object`);
  }
  const fields = document as Record<string, unknown>;
  if (!Object.prototype.hasOwnProperty.call(fields, jsonField)) {
    throw new SecretTokenError(`${where}: the secret has no field ${JSON.stringify(jsonField)}; its fields are ${Object.keys(fields).map((f) => JSON.stringify(f)).join(', ') || 'none'}`);
  }
  const field = fields[jsonField];
  if (typeof field !== 'string') {
    throw new SecretTokenError(`${where}: field ${JSON.stringify(jsonField)} of the secret must be a string, got a ${field === null ? 'null' : Array.isArray(field) ? 'list' : typeof field}`);
  }
  return nonEmpty(field, `${where}: field ${JSON.stringify(jsonField)}`);
}

function tokenOfParameter(output: unknown, where: string): string {
  const value = (output as { Parameter?: { Value?: unknown } } | undefined)?.Parameter?.Value;
  if (typeof value !== 'string') throw new SecretTokenError(`${where}: the answer holds no Parameter.Value`);
  return nonEmpty(value, where);
}

/** Trimmed as OPA trims a `token_path` file: a secret pasted with a newline still works. */
function nonEmpty(value: string, where: string): string {
  const token = value.trim();
  if (!token) throw new SecretTokenError(`${where}: the token is empty`);
  return token;
}

/**
 * What an AWS JSON-protocol error says (`__type`, which may carry a namespace before `#`, and
 * `message` or `Message`), or the status alone when the body is not such an error.
 */
function awsError(service: string, status: number, body: Buffer): string {
  const error = parseJson(body) as { __type?: unknown; message?: unknown; Message?: unknown } | undefined;
  const type = typeof error?.__type === 'string' ? error.__type.split('#').pop() : undefined;
  const message = [error?.message, error?.Message].find((m): m is string => typeof m === 'string');
  const said = [type, message?.slice(0, 500)].filter(Boolean).join(': ');
  return `${service} answered HTTP ${status}${said ? ` ${said}` : ''}`;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
