/**
 * Bundle roots as OPA defines them: a root owns every path it prefixes segment by segment, and the
 * empty root owns everything (https://www.openpolicyagent.org/docs/management-bundles#bundle-file-format,
 * `RootPathsContain`/`RootPathsOverlap` in OPA's `v1/bundle/bundle.go`).
 */

export function splitPath(path: string): string[] {
  return path === '' ? [] : path.split('/');
}

/** True when `root` contains `path` (both slash paths without leading `/`). */
export function rootContains(root: string, path: string): boolean {
  if (root === '') return true;
  const r = root.split('/');
  const p = splitPath(path);
  return r.length <= p.length && r.every((segment, i) => segment === p[i]);
}

export function rootsContain(roots: readonly string[], path: string): boolean {
  return roots.some((root) => rootContains(root, path));
}

export function rootsOverlap(a: string, b: string): boolean {
  return rootContains(a, b) || rootContains(b, a);
}
