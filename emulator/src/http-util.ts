import type { IncomingMessage, ServerResponse } from 'node:http';

/** Lambda's APIs answer errors with this body (Extensions API and Runtime API reference, "ErrorResponse"). */
export interface ErrorBody {
  readonly errorMessage: string;
  readonly errorType: string;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload).toString(),
    ...headers,
  });
  res.end(payload);
}

export function sendError(res: ServerResponse, status: number, errorType: string, errorMessage: string): void {
  sendJson(res, status, { errorMessage, errorType } satisfies ErrorBody);
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Parses an error report body, which both APIs document as optional. */
export function parseErrorReport(body: string): { errorType?: string; errorMessage?: string; stackTrace?: unknown } {
  if (body.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(body);
    if (value === null || typeof value !== 'object') return { errorMessage: body };
    const record = value as Record<string, unknown>;
    return {
      errorType: typeof record.errorType === 'string' ? record.errorType : undefined,
      errorMessage: typeof record.errorMessage === 'string' ? record.errorMessage : undefined,
      stackTrace: record.stackTrace,
    };
  } catch {
    return { errorMessage: body };
  }
}
