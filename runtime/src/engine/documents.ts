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
 * Builds one document out of several, as OPA merges data files and bundles into one tree
 * (`merge.InterfaceMaps`): objects merge key by key, any other overlap is a conflict. The documents
 * added are never modified: an object they share with the result is copied the first time another
 * document is merged into it, so each object is copied at most once and a bundle of many data
 * files builds in linear time.
 */
export class DocumentBuilder {
  public readonly document: Record<string, unknown> = {};
  /** Objects created by this builder, which it may write into. */
  private readonly owned = new WeakSet<object>([this.document]);

  /** Merges `doc` in; throws an Error naming the path where a value of `doc` would replace another. */
  public add(doc: Record<string, unknown>): void {
    this.merge(this.document, doc, '');
  }

  private merge(target: Record<string, unknown>, source: Record<string, unknown>, path: string): void {
    for (const key of Object.keys(source)) {
      const here = `${path}/${key}`;
      if (!Object.prototype.hasOwnProperty.call(target, key)) {
        setOwn(target, key, source[key]);
        continue;
      }
      const left = target[key];
      const right = source[key];
      if (!isPlainObject(left) || !isPlainObject(right)) throw new Error(`two values for ${here}`);
      this.merge(this.own(target, key, left), right, here);
    }
  }

  /** `node` itself when this builder created it, else a copy put in its place. */
  private own(parent: Record<string, unknown>, key: string, node: Record<string, unknown>): Record<string, unknown> {
    if (this.owned.has(node)) return node;
    const copy: Record<string, unknown> = {};
    for (const k of Object.keys(node)) setOwn(copy, k, node[k]);
    this.owned.add(copy);
    setOwn(parent, key, copy);
    return copy;
  }
}
