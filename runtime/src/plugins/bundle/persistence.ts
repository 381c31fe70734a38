import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

/**
 * Activated bundles kept on disk, in OPA's layout: `<persistence_directory>/bundles/<name>/bundle.tar.gz`,
 * holding the archive exactly as downloaded, so it is verified again when loaded.
 */
export class BundlePersistence {
  /** @param directory `<persistence_directory>/bundles` */
  public constructor(public readonly directory: string) {}

  public fileOf(name: string): string {
    const file = path.resolve(this.directory, name, 'bundle.tar.gz');
    // Bundle names come from the configuration; still, never write outside the directory.
    if (!file.startsWith(path.resolve(this.directory) + path.sep)) {
      throw new Error(`bundle name ${JSON.stringify(name)} cannot be used as a folder under ${this.directory}`);
    }
    return file;
  }

  /** Writes through a temporary file and a rename, so a crash never leaves half an archive. */
  public async save(name: string, archive: Buffer): Promise<void> {
    const file = this.fileOf(name);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, archive);
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** The persisted archive, or undefined when there is none. */
  public async load(name: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.fileOf(name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}
