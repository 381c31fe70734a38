/**
 * JSON documents as OPA's data tree holds them: objects merge key by key, any other overlap is a
 * conflict (OPA's `merge.InterfaceMaps`). Keys are set as own properties, so a `__proto__` key in a
 * data file stays data.
 */

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function setOwn<T extends Record<string, unknown>>(obj: T, key: string, value: unknown): T {
  // Assignment is what an own data property of a plain object needs, and much faster than
  // defineProperty; only `__proto__` has a setter on Object.prototype that assignment would call.
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else (obj as Record<string, unknown>)[key] = value;
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

/**
 * Merges `b` into `a`, modifying `a` and keeping `b`'s objects by reference: for building one
 * document out of parts that belong to it alone (the data files of one bundle), where copying at
 * every merge would make a bundle of many files quadratic to read. Throws as {@link mergeDocuments}.
 */
export function mergeInto(a: Record<string, unknown>, b: Record<string, unknown>, path = ''): void {
  for (const key of Object.keys(b)) {
    const here = `${path}/${key}`;
    if (!Object.prototype.hasOwnProperty.call(a, key)) {
      setOwn(a, key, b[key]);
      continue;
    }
    const left = a[key];
    const right = b[key];
    if (!isPlainObject(left) || !isPlainObject(right)) throw new Error(`two values for ${here}`);
    mergeInto(left, right, here);
  }
}
