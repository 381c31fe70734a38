/**
 * The contract of one kind of `services[_].credentials` (OPA's `HTTPAuthPlugin` in
 * v1/plugins/rest/auth.go: parse the section, make a client, prepare each request).
 *
 * To add a kind, write one file beside this one that exports a `CredentialsStrategy`, and list it
 * in `registry.ts`:
 * - `key` is the name of its section under `credentials` (`bearer`, `s3_signing`, ...).
 * - `parse` checks the section and fills defaults from named constants; a `ConfigError` names the
 *   key it was given (`services.<name>.credentials.<key>.<field>`) and never echoes a secret. It
 *   returns plain data whose `type` is `key`: the service client finds the strategy again by it.
 * - `authorizer` runs once per service client (OPA's `NewClient`). Throw a `ConfigError` there when
 *   the environment lacks what the kind needs, so init fails instead of every request later.
 * - `prepare` runs before every request to the service's own host, and only there: the client
 *   sends no credentials to a host a redirect leads to. Read what can rotate (a token file, the
 *   function's AWS credentials) at each call, or cache it and implement `refresh`.
 */
import type { AwsCredentials, AwsEndpointService } from '../../config/env';

/** The parsed section of one kind of credentials. */
export interface ServiceCredentials {
  /** The `key` of the strategy that parsed it. */
  readonly type: string;
}

/** What the extension gives a kind to prepare requests with. */
export interface CredentialsContext {
  /** The credentials and region Lambda gives the extension; throws a `ConfigError` when they are not set. */
  readonly awsCredentials: () => AwsCredentials;
  /** The base URL of an AWS service the kind calls itself; throws a `ConfigError` when it cannot be found. */
  readonly awsEndpoint: (service: AwsEndpointService) => string;
}

/** A request about to go to the service's own host. */
export interface OutgoingRequest {
  readonly method: string;
  /** The full URL, path percent-encoded, with its query. */
  readonly url: URL;
  /** Header names in lower case, `content-length` included when there is a body; `prepare` adds to them. */
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array;
  /** The caller's deadline: a kind that fetches a token over the network must bound the fetch by it. */
  readonly signal: AbortSignal;
}

/** One service client's use of its credentials. */
export interface RequestAuthorizer {
  /** Adds the `Authorization` (or signature) headers to `request.headers`; rejects when it cannot. */
  prepare(request: OutgoingRequest): Promise<void>;
  /**
   * Called when the service answered 401 or 403 to a request `prepare` authorized: reads
   * credentials that may have rotated (a token kept in a secret) again, and resolves to whether
   * they changed, in which case the client sends the request once more. Rejects when the read
   * fails. A kind whose credentials cannot go stale leaves it out.
   */
  refresh?(signal: AbortSignal): Promise<boolean>;
}

export interface CredentialsStrategy<C extends ServiceCredentials = ServiceCredentials> {
  /** The key under `services[_].credentials` that selects this kind. */
  readonly key: string;
  /** Parses the section found under `key`; `key` here is its full path, for messages. */
  parse(section: Readonly<Record<string, unknown>>, key: string): C;
  /** Makes what one service client prepares its requests with. */
  authorizer(credentials: C, context: CredentialsContext): RequestAuthorizer;
}
