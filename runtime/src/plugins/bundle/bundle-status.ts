import { BundleHttpError } from './downloader';
import { errorMessage } from '../../errors';

/** OPA's code for every bundle failure (`v1/plugins/bundle/status.go`). */
export const BUNDLE_ERROR_CODE = 'bundle_error';
/** Go's zero `time.Time`, which OPA reports for an event that has not happened yet. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** One bundle's status, serialized as OPA's status API reports it under `bundles.<name>`. */
export interface BundleStatusReport {
  readonly name: string;
  readonly active_revision?: string;
  readonly last_successful_activation: string;
  readonly type?: string;
  readonly size?: number;
  readonly last_successful_download: string;
  readonly last_successful_request: string;
  readonly last_request: string;
  readonly code?: string;
  readonly message?: string;
  readonly errors?: string[];
  readonly http_code?: number;
}

/** The mutable status of one bundle, after OPA's `bundle.Status`. */
export class BundleStatus {
  public activeRevision?: string;
  public lastSuccessfulActivation?: Date;
  public lastSuccessfulDownload?: Date;
  public lastSuccessfulRequest?: Date;
  public lastRequest?: Date;
  public size?: number;
  private error?: { message: string; httpCode?: number; errors?: string[] };

  public constructor(public readonly name: string) {}

  public setRequest(now: Date): void {
    this.lastRequest = now;
  }

  public setError(err: unknown): void {
    if (err === undefined) {
      this.error = undefined;
      return;
    }
    const message = errorMessage(err);
    const httpCode = err instanceof BundleHttpError ? err.statusCode : undefined;
    const errors = err instanceof AggregateError ? err.errors.map(errorMessage) : undefined;
    this.error = { message, httpCode, errors };
  }

  public setActivateSuccess(revision: string, now: Date): void {
    this.activeRevision = revision;
    this.lastSuccessfulActivation = now;
  }

  public get failed(): boolean {
    return this.error !== undefined;
  }

  public get errorMessage(): string | undefined {
    return this.error?.message;
  }

  public toJSON(): BundleStatusReport {
    return {
      name: this.name,
      ...(this.activeRevision !== undefined ? { active_revision: this.activeRevision } : {}),
      last_successful_activation: time(this.lastSuccessfulActivation),
      ...(this.lastSuccessfulActivation ? { type: 'snapshot' } : {}),
      ...(this.size ? { size: this.size } : {}),
      last_successful_download: time(this.lastSuccessfulDownload),
      last_successful_request: time(this.lastSuccessfulRequest),
      last_request: time(this.lastRequest),
      ...(this.error ? { code: BUNDLE_ERROR_CODE, message: this.error.message } : {}),
      ...(this.error?.errors ? { errors: this.error.errors } : {}),
      ...(this.error?.httpCode !== undefined ? { http_code: this.error.httpCode } : {}),
    };
  }
}

function time(d: Date | undefined): string {
  return d ? d.toISOString() : ZERO_TIME;
}
