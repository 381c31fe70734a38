/**
 * Finds which compiled entrypoint answers a data path. A Wasm policy can only evaluate the
 * entrypoints it was compiled with, so a path below one is answered from that entrypoint's value
 * (`app/rbac/allow` from `app/rbac`), and a path under none is undefined. Built once per
 * activation so a decision costs one walk down a tree of path segments.
 */

interface IndexNode<T> {
  /** The node's entrypoint, as {@link EntrypointIndex.resolve} answers a path that names it. */
  exact?: Resolved<T>;
  readonly children: Map<string, IndexNode<T>>;
}

export interface Resolved<T> {
  readonly entry: T;
  /** Segments below the entrypoint, to look up in its value. */
  readonly rest: readonly string[];
}

const NO_SEGMENTS: readonly string[] = [];

export class EntrypointIndex<T> {
  private readonly root: IndexNode<T> = { children: new Map() };

  /** Returns false when `segments` already has an entry. */
  public add(segments: readonly string[], entry: T): boolean {
    let node = this.root;
    for (const segment of segments) {
      let child = node.children.get(segment);
      if (!child) {
        child = { children: new Map() };
        node.children.set(segment, child);
      }
      node = child;
    }
    if (node.exact !== undefined) return false;
    node.exact = { entry, rest: NO_SEGMENTS };
    return true;
  }

  public get(segments: readonly string[]): T | undefined {
    let node: IndexNode<T> | undefined = this.root;
    for (const segment of segments) {
      node = node.children.get(segment);
      if (!node) return undefined;
    }
    return node.exact?.entry;
  }

  /** The deepest entrypoint at or above `segments`. */
  public resolve(segments: readonly string[]): Resolved<T> | undefined {
    let node: IndexNode<T> | undefined = this.root;
    let found = node.exact;
    let depth = 0;
    for (let i = 0; i < segments.length; i++) {
      node = node.children.get(segments[i]);
      if (!node) break;
      if (node.exact !== undefined) {
        found = node.exact;
        depth = i + 1;
      }
    }
    if (found === undefined) return undefined;
    // A path that names an entrypoint (most decisions) is answered by the node's own, made once.
    return depth === segments.length ? found : { entry: found.entry, rest: segments.slice(depth) };
  }
}

/** Decimal digits, leading zeros allowed: OPA reads array indexes in paths with Go's strconv.Atoi. */
export const ARRAY_INDEX = /^[0-9]+$/;
