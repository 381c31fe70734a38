/**
 * OPA's boolean query parameters (`getBoolParam` in `v1/server/server.go`): a flag is on when it
 * is present without a value (`?pretty`) or when any of its values is `true` in any case
 * (`?metrics=TRUE`); `?provenance=1` is off, as in OPA.
 */
export function boolParam(query: URLSearchParams, name: string): boolean {
  const values = query.getAll(name);
  if (values.length === 0) return false;
  if (values.length === 1 && values[0] === '') return true;
  return values.some((v) => v.toLowerCase() === 'true');
}

/** The flags OPA's Data API reads; `instrument` implies `metrics` (OPA then adds its own counters). */
export interface DataFlags {
  readonly metrics: boolean;
  readonly provenance: boolean;
}

const NO_FLAGS: DataFlags = { metrics: false, provenance: false };

export function dataFlags(query: URLSearchParams): DataFlags {
  if (query.size === 0) return NO_FLAGS;
  return {
    metrics: boolParam(query, 'metrics') || boolParam(query, 'instrument'),
    provenance: boolParam(query, 'provenance'),
  };
}
