import { STATUS_CODES } from 'node:http';
import type { BundleSource } from './config';
import type { ServiceClient } from '../../services/service-client';

/**
 * The bundle server answered with a status other than 200 or 304. The message is OPA's
 * (`download.HTTPError`), and the status plugin reports `statusCode` as `http_code`.
 */
export class BundleHttpError extends Error {
  public constructor(public readonly bundle: string, public readonly statusCode: number) {
    super(`server replied with ${STATUS_CODES[statusCode] ?? `HTTP ${statusCode}`}`);
    this.name = 'BundleHttpError';
  }
}

export type DownloadResult =
  /** 304: the bundle with this ETag is still current; nothing was read. */
  | { readonly modified: false; readonly etag: string }
  | { readonly modified: true; readonly archive: Buffer; readonly etag?: string };

/**
 * One conditional GET of a bundle (https://www.openpolicyagent.org/docs/management-bundles#caching):
 * `If-None-Match` carries the ETag of the active bundle, so an unchanged bundle costs a 304.
 */
export async function downloadBundle(
  client: ServiceClient,
  source: BundleSource,
  etag: string | undefined,
  signal: AbortSignal,
): Promise<DownloadResult> {
  const response = await client.request({
    method: 'GET',
    path: source.resource,
    headers: etag ? { 'if-none-match': etag } : {},
    signal,
    // A download larger than the largest file allowed cannot hold an acceptable bundle.
    maxBodyBytes: source.sizeLimitBytes,
  });
  const responseEtag = response.headers.get('etag') ?? undefined;
  if (response.status === 304) return { modified: false, etag: responseEtag ?? etag ?? '' };
  if (response.status !== 200) throw new BundleHttpError(source.name, response.status);
  return { modified: true, archive: response.body, etag: responseEtag };
}
