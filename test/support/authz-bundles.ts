/**
 * The bundles of the bundle-plugin tests, unit and end to end: a policy whose `authz/revision`
 * names the bundle's revision, so a decision shows which revision serves; and ways to take a
 * bundle apart and put it back together with files changed.
 */
import { packBundle } from './bundle-archive';
import { buildWasmBundle, WasmBundleOptions } from './opa';
import { readBundleArchive, readTarArchive } from '../../runtime/src/engine/bundle-archive';

export const AUTHZ_ENTRYPOINTS = ['authz/allow', 'authz/revision'];

/** `opa build -t wasm` of the authz policy at `revision`, with more files, other roots or a signature. */
export function buildAuthz(
  revision: string,
  extra: { roots?: string[]; files?: Record<string, string>; signing?: WasmBundleOptions['signing'] } = {},
): Promise<Buffer> {
  return buildWasmBundle({
    modules: {
      'authz/policy.rego': `package authz\n\ndefault allow := false\n\nallow if input.user == "alice"\n\nrevision := "${revision}"\n`,
      ...extra.files,
    },
    manifest: { roots: extra.roots ?? ['authz'] },
    entrypoints: AUTHZ_ENTRYPOINTS,
    revision,
    signing: extra.signing,
  });
}

/**
 * The files of a `.tar.gz` (or of a plain `.tar`, as the construct embeds small bundles), by path
 * without a leading `/`, read by the extension's own reader.
 */
export async function unpack(archive: Buffer): Promise<Record<string, Buffer>> {
  const limits = { maxFileBytes: 2 ** 30, maxTotalBytes: 2 ** 30 };
  const gzip = archive[0] === 0x1f && archive[1] === 0x8b;
  const files = gzip ? await readBundleArchive('fixture', archive, limits) : readTarArchive('fixture', archive, limits);
  return Object.fromEntries(files.map((f) => [f.path, f.data]));
}

/** Repacks a bundle with some files replaced (a string or Buffer) or removed (undefined). */
export async function repack(archive: Buffer, changes: Record<string, string | Buffer | undefined>): Promise<Buffer> {
  const files: Record<string, string | Buffer> = {};
  for (const [file, data] of Object.entries({ ...(await unpack(archive)), ...changes })) {
    if (data !== undefined) files[file] = data;
  }
  return packBundle(files);
}
