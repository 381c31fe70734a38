/**
 * Checks the bundles a layer embeds the way the extension reads them at init (`main.ts`,
 * `readEmbeddedBundles`): each archive read by the one bundle reader with the default limits (the
 * layer holds a small one inflated, `.tar`, which init reads by the same tar rules), then
 * all activated in one engine in name order, so that Wasm that does not load, a manifest entrypoint
 * a module does not export, data that does not parse and bundles that collide fail at synth with
 * the message init would have failed with.
 */
import * as fs from 'node:fs';
import type { CheckedBundle, CheckRequest, CheckSuccess } from '../../../src/private/bundle-tool-protocol';
import type { Bundle } from '../engine/bundle';
import { readBundle } from '../engine/bundle-reader';
import { rootsOverlap, splitPath } from '../engine/bundle-roots';
import { EntrypointIndex } from '../engine/entrypoint-index';
import { PolicyEngine } from '../engine/policy-engine';
import { BundleError, errorMessage } from '../errors';

/** A problem that concerns the named bundles. */
export class CheckError extends Error {
  public constructor(public readonly bundles: readonly string[], message: string) {
    super(message);
    this.name = 'CheckError';
  }
}

export async function checkBundles(request: CheckRequest): Promise<CheckSuccess> {
  const sorted = [...request.bundles].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const bundles: Bundle[] = [];
  for (const { name, file } of sorted) {
    const bundle = await attempt(name, async () => readBundle(name, fs.readFileSync(file)));
    for (const other of bundles) checkRootsApart(other, bundle);
    bundles.push(bundle);
  }

  const engine = new PolicyEngine();
  const checked: CheckedBundle[] = [];
  for (const bundle of bundles) {
    const before = new Set(engine.entrypoints());
    await attempt(bundle.name, async () => engine.activate(bundle));
    checked.push({
      name: bundle.name,
      revision: bundle.manifest.revision,
      roots: bundle.manifest.roots,
      entrypoints: engine.entrypoints().filter((e) => !before.has(e)),
    });
  }

  // The rule the server answers by: a path equal to or below an entrypoint.
  const index = new EntrypointIndex<string>();
  for (const entrypoint of engine.entrypoints()) index.add(splitPath(entrypoint), entrypoint);
  const unanswered = request.queries.filter((q) => index.resolve(splitPath(q)) === undefined);
  return { ok: true, bundles: checked, unanswered };
}

async function attempt<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    // A BundleError already reads `bundle <name>: ...`; the construct names the bundle itself.
    const message = err instanceof BundleError ? err.message.replace(`bundle ${err.bundle}: `, '') : errorMessage(err);
    throw new CheckError([name], message);
  }
}

/**
 * OPA refuses to activate two bundles whose roots overlap (one is a prefix of the other by path
 * segments), since both could write that part of the data tree. The engine refuses them too; this
 * says which roots and what to do, naming both bundles.
 */
function checkRootsApart(a: Bundle, b: Bundle): void {
  for (const ra of a.manifest.roots) {
    for (const rb of b.manifest.roots) {
      if (!rootsOverlap(ra, rb)) continue;
      throw new CheckError([a.name, b.name], `the manifest roots of bundles ${a.name} (${describeRoots(a)}) and ${b.name} (${describeRoots(b)}) overlap `
        + `('${ra}' and '${rb}'): OPA refuses two bundles that could write the same part of the data tree; give each bundle roots of its own `
        + 'in its .manifest (a bundle without roots owns the whole data tree)');
    }
  }
}

function describeRoots(bundle: Bundle): string {
  return `roots ${JSON.stringify(bundle.manifest.roots)}${bundle.manifest.roots.includes('') ? ', the whole data tree' : ''}`;
}
