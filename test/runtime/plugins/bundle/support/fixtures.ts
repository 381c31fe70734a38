import { opaBuild } from './opa-build';
import { readBundleArchive } from '../../../../../runtime/src/engine/bundle-archive';
import { packBundle } from '../../../../support/bundle-archive';

/** The policy of every fixture: `authz/revision` names the bundle's revision, so a decision shows which one serves. */
export function authzFiles(revision: string, roots: string[] = ['authz']): Record<string, string> {
  return {
    '.manifest': JSON.stringify({ roots }),
    'authz/policy.rego': `package authz\n\ndefault allow := false\n\nallow if input.user == "alice"\n\nrevision := "${revision}"\n`,
  };
}

export const AUTHZ_ENTRYPOINTS = ['authz/allow', 'authz/revision'];

export function buildAuthz(revision: string, extra: { roots?: string[]; files?: Record<string, string>; signing?: Parameters<typeof opaBuild>[0]['signing'] } = {}): Promise<Buffer> {
  return opaBuild({
    files: { ...authzFiles(revision, extra.roots), ...extra.files },
    entrypoints: AUTHZ_ENTRYPOINTS,
    revision,
    signing: extra.signing,
  });
}

/** The files of a `.tar.gz`, by path without a leading `/`. */
export async function unpack(archive: Buffer): Promise<Record<string, Buffer>> {
  const files = await readBundleArchive('fixture', archive, { maxFileBytes: 2 ** 30, maxTotalBytes: 2 ** 30 });
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
