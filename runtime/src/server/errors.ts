/**
 * Errors the API answers in OPA's shape, `{"code": ..., "message": ...}`
 * (https://www.openpolicyagent.org/docs/rest-api#errors). Codes are OPA's (`v1/server/types`).
 */
export type ApiErrorCode = 'invalid_parameter' | 'internal_error' | 'resource_not_found' | 'method_not_allowed' | 'undefined_document';

export class ApiError extends Error {
  /** Extra response headers, e.g. `Allow` on a 405. */
  public readonly headers: Record<string, string>;

  public constructor(
    public readonly status: number,
    public readonly code: ApiErrorCode,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options);
    this.name = 'ApiError';
    this.headers = options?.headers ?? {};
  }

  public toBody(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** OPA's `types.MsgDecodingLimitError`, answered 400 `invalid_parameter` (`handlers.DecodingLimitsHandler`). */
export const BODY_TOO_LARGE = 'request body too large';
/** OPA's `types.MsgDecodingGzipLimitError`, when a gzip body inflates past its limit. */
export const GZIP_TOO_LARGE = 'compressed request body too large';
/** How OPA begins its 400 for a request body it cannot read as the route's document. */
export const MALFORMED_INPUT = 'body contains malformed input document';
/** OPA's answer to a `Content-Encoding: gzip` body that is not gzip. */
export const GZIP_INVALID = 'could not decompress the body';
