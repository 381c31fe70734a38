/**
 * The route table: one handler per method and path. A path ending in `/*` also matches everything
 * below it and hands the remainder to the handler. The table itself is in `server.ts`; the rest of
 * OPA's API (query, compile, config, status) would grow there as rows.
 */
import { IncomingMessage } from 'node:http';

export interface ApiRequest {
  readonly raw: IncomingMessage;
  /** Raw (still percent-encoded) path below the route's prefix, without the leading `/`; `''` at the prefix itself. */
  readonly rest: string;
  readonly query: URLSearchParams;
  /** The body, read with the server's size limit; rejects with an ApiError. */
  readonly body: () => Promise<Buffer>;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
}

export type Handler = (request: ApiRequest) => Promise<ApiResponse> | ApiResponse;

export interface Route {
  /** `/health` matches that path only; `/v1/data/*` matches `/v1/data` and every path below it. */
  readonly path: string;
  readonly methods: Readonly<Partial<Record<string, Handler>>>;
}

export interface RouteMatch {
  readonly route: Route;
  readonly rest: string;
}

export function matchRoute(routes: readonly Route[], pathname: string): RouteMatch | undefined {
  for (const route of routes) {
    if (!route.path.endsWith('/*')) {
      if (pathname === route.path) return { route, rest: '' };
      continue;
    }
    const prefix = route.path.slice(0, -2);
    if (pathname === prefix) return { route, rest: '' };
    if (pathname.startsWith(prefix + '/')) return { route, rest: pathname.slice(prefix.length + 1) };
  }
  return undefined;
}
