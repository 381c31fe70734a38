// `fs.promises`, not `node:fs/promises`: the getter loads the promise API on first use, not at start-up.
import { promises as fsPromises } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { nodeCrypto } from '../../node-crypto';

/**
 * Activated bundles kept on disk, in OPA's layout: `<persistence_directory>/bundles/<name>/bundle.tar.gz`,
 * holding the archive exactly as downloaded, so it is verified again when loaded.
 */
export class BundlePersistence {
  /** @param directory `<persistence_directory>/bundles` */
  public constructor(public readonly directory: string) {}

  public fileOf(name: string): string {
    const file = resolve(this.directory, name, 'bundle.tar.gz');
    // Bundle names come from the configuration; still, never write outside the directory.
    if (!file.startsWith(resolve(this.directory) + sep)) {
      throw new Error(`bundle name ${JSON.stringify(name)} cannot be used as a folder under ${this.directory}`);
    }
    return file;
  }

  /** Writes through a temporary file and a rename, so a crash never leaves half an archive. */
  public async save(name: string, archive: Buffer): Promise<void> {
    const file = this.fileOf(name);
    await fsPromises.mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${nodeCrypto().randomBytes(6).toString('hex')}.tmp`;
    try {
      await fsPromises.writeFile(tmp, archive);
      await fsPromises.rename(tmp, file);
    } catch (err) {
      await fsPromises.rm(tmp, { force: true });
      throw err;
    }
  }

  /** The persisted archive, or undefined when there is none. */
  public async load(name: string): Promise<Buffer | undefined> {
    try {
      return await fsPromises.readFile(this.fileOf(name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}
