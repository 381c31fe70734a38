/**
 * JSON documents as OPA's data tree holds them: objects merge key by key, any other overlap is a
 * conflict (OPA's `merge.InterfaceMaps`). Keys are set as own properties, so a `__proto__` key in a
 * data file stays data.
 */

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function setOwn<T extends Record<string, unknown>>(obj: T, key: string, value: unknown): T {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  return obj;
}

/**
 * A new document holding both; neither argument is modified. Throws an Error naming the path
 * where a value of `b` would replace a value of `a`.
 */
export function mergeDocuments(a: Record<string, unknown>, b: Record<string, unknown>, path = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(a)) setOwn(out, key, a[key]);
  for (const key of Object.keys(b)) {
    const here = `${path}/${key}`;
    if (!Object.prototype.hasOwnProperty.call(out, key)) {
      setOwn(out, key, b[key]);
      continue;
    }
    const left = out[key];
    const right = b[key];
    if (!isPlainObject(left) || !isPlainObject(right)) throw new Error(`two values for ${here}`);
    setOwn(out, key, mergeDocuments(left, right, here));
  }
  return out;
}
