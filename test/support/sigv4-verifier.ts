import type { IncomingMessage } from 'node:http';
import * as aws4 from 'aws4';

export interface ExpectedCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly region: string;
  readonly service: string;
}

/**
 * Checks a request's SigV4 `Authorization` header the way S3 does, with an independent
 * implementation (`aws4`): the request is signed again from the headers it says it signed, with
 * the credentials the server knows, and the two signatures must be equal. Returns why it is
 * refused, or undefined when it verifies.
 */
export function sigv4Problem(req: IncomingMessage, body: Buffer, expected: ExpectedCredentials): string | undefined {
  const auth = req.headers.authorization ?? '';
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!match) return `malformed Authorization header: ${JSON.stringify(auth)}`;
  const [, accessKeyId, , region, service, signedHeaders] = match;
  if (accessKeyId !== expected.accessKeyId) return `unknown access key ${accessKeyId}`;
  if (region !== expected.region || service !== expected.service) return `credential scope ${region}/${service} is not ${expected.region}/${expected.service}`;
  const names = signedHeaders.split(';');
  for (const required of ['host', 'x-amz-date', 'x-amz-content-sha256']) {
    if (!names.includes(required)) return `${required} is not signed`;
  }
  if (expected.sessionToken !== undefined) {
    if (!names.includes('x-amz-security-token')) return 'x-amz-security-token is not signed';
    if (req.headers['x-amz-security-token'] !== expected.sessionToken) return 'wrong session token';
  }
  const headers: Record<string, string> = {};
  for (const name of names) {
    const value = req.headers[name];
    if (value === undefined) return `signed header ${name} is missing`;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const request: aws4.Request = {
    method: req.method,
    host: req.headers.host,
    path: req.url,
    service,
    region,
    headers,
    body: body.length > 0 ? body : undefined,
  };
  aws4.sign(request, { accessKeyId, secretAccessKey: expected.secretAccessKey, sessionToken: expected.sessionToken });
  const resigned = (request.headers as Record<string, string>).Authorization;
  return resigned === auth ? undefined : `signature mismatch: expected ${resigned}`;
}
