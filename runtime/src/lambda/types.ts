/**
 * Shapes of the Lambda Extensions API, as documented in "Lambda Extensions API"
 * (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html), API version
 * 2020-01-01.
 */

export type ExtensionEventType = 'INVOKE' | 'SHUTDOWN';

/** Body of the answer to `POST /register`. */
export interface RegisterResponse {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly handler: string;
  /** Only sent when the request carries `Lambda-Extension-Accept-Feature: accountId`. */
  readonly accountId?: string;
}

export interface Tracing {
  readonly type: string;
  readonly value: string;
}

export interface InvokeEvent {
  readonly eventType: 'INVOKE';
  /** Epoch milliseconds at which the invocation times out. */
  readonly deadlineMs: number;
  readonly requestId: string;
  readonly invokedFunctionArn: string;
  /** Absent when the invocation carries no trace header (as AWS's RIE sends it). */
  readonly tracing?: Tracing;
}

export interface ShutdownEvent {
  readonly eventType: 'SHUTDOWN';
  // `string & {}` keeps the documented values visible to editors without rejecting new ones.
  readonly shutdownReason: 'spindown' | 'timeout' | 'failure' | (string & {});
  /** Epoch milliseconds at which Lambda kills the process. */
  readonly deadlineMs: number;
}

/** Body of the answer to `GET /event/next`. */
export type NextEvent = InvokeEvent | ShutdownEvent;

/** Body of the answer to `POST /init/error` and `POST /exit/error`. */
export interface StatusResponse {
  readonly status: string;
}

/** Body of a non-2xx answer from the Extensions API. */
export interface ErrorResponse {
  readonly errorType?: string;
  readonly errorMessage?: string;
}
