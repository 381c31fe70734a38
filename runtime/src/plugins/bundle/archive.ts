import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { BundleError } from '../../errors';

/** One regular file of a bundle's tarball, its path relative to the bundle root (no leading `/`). */
export interface ArchiveFile {
  readonly path: string;
  readonly data: Buffer;
}

const BLOCK = 512;

/**
 * Lists the files of a bundle (`.tar.gz`) so the plugin can enforce `size_limit_bytes` and verify
 * signatures over the exact bytes the engine will read. Files larger than the limit are refused
 * as soon as their tar header is seen, before they are decompressed, with OPA's message.
 */
export async function readArchiveFiles(bundle: string, archive: Buffer, sizeLimitBytes: number, signal?: AbortSignal): Promise<ArchiveFile[]> {
  const tar = await gunzip(bundle, archive, sizeLimitBytes, signal);
  return parseTar(bundle, tar, sizeLimitBytes);
}

function gunzip(bundle: string, archive: Buffer, sizeLimitBytes: number, signal?: AbortSignal): Promise<Buffer> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    // A header scanner running over the decompressed stream: bytes of file data still to skip,
    // the header being collected, and whether the end-of-archive block (or a non-header) was seen.
    let skip = 0;
    let pending = Buffer.alloc(0);
    let scanning = true;
    let done = false;
    const stream = zlib.createGunzip();
    const fail = (err: unknown) => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      stream.destroy();
      reject(err);
    };
    const onAbort = () => fail(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
      // Check each header's declared size as soon as it is decompressed, so a gzip bomb is
      // stopped at its first oversized file rather than after inflating it.
      let pos = 0;
      while (scanning && pos < chunk.length) {
        if (skip > 0) {
          const n = Math.min(skip, chunk.length - pos);
          skip -= n;
          pos += n;
          continue;
        }
        const take = chunk.subarray(pos, pos + BLOCK - pending.length);
        pending = Buffer.concat([pending, take]);
        pos += take.length;
        if (pending.length < BLOCK) break;
        const header = pending;
        pending = Buffer.alloc(0);
        const size = readSize(header);
        if (header.every((b) => b === 0) || size === undefined) {
          scanning = false; // end of archive, or not a tar header: parseTar reports the latter
          break;
        }
        if (isFileType(header[156]) && size > sizeLimitBytes) {
          fail(new BundleError(bundle, `bundle file '${normalize(entryName(header))}' size (${size} bytes) exceeds configured size_limit_bytes (${sizeLimitBytes} bytes)`));
          return;
        }
        skip = Math.ceil(size / BLOCK) * BLOCK;
      }
    });
    stream.on('error', (err) => fail(new BundleError(bundle, `bundle is not a valid gzip archive: ${err.message}`, { cause: err })));
    stream.on('end', () => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      resolve(Buffer.concat(chunks, total));
    });
    stream.end(archive);
  });
}

/** Reads a ustar/pax/GNU tar stream (already decompressed): regular files only, as OPA's tarball loader does. */
export function parseTar(bundle: string, tar: Buffer, sizeLimitBytes: number): ArchiveFile[] {
  const files: ArchiveFile[] = [];
  let offset = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break; // end-of-archive marker
    if (!validChecksum(header)) throw new BundleError(bundle, 'bundle is not a tar archive (bad header checksum)');
    const size = readSize(header);
    if (size === undefined) throw new BundleError(bundle, 'bundle is not a tar archive (bad size field)');
    const dataStart = offset + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > tar.length) throw new BundleError(bundle, 'bundle tar archive is truncated');
    const data = tar.subarray(dataStart, dataEnd);
    const type = header[156];
    if (type === 0x78 /* x: pax header of the next entry */) {
      longName = paxPath(data) ?? longName;
    } else if (type === 0x4c /* L: GNU long name of the next entry */) {
      longName = data.toString('utf8').replace(/\0.*$/s, '');
    } else {
      if (isFileType(type)) {
        const name = normalize(longName ?? entryName(header));
        if (size > sizeLimitBytes) {
          throw new BundleError(bundle, `bundle file '${name}' size (${size} bytes) exceeds configured size_limit_bytes (${sizeLimitBytes} bytes)`);
        }
        if (name) files.push({ path: name, data: Buffer.from(data) });
      }
      longName = undefined;
    }
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
  if (offset === 0) throw new BundleError(bundle, 'bundle is not a tar archive (no entries)');
  return files;
}

function isFileType(type: number): boolean {
  // '0', NUL (old tar) and '7' (contiguous file) hold file data; directories and links do not.
  return type === 0x30 || type === 0 || type === 0x37;
}

function entryName(header: Buffer): string {
  const name = cString(header.subarray(0, 100));
  const magic = header.subarray(257, 262).toString('latin1');
  const prefix = magic === 'ustar' ? cString(header.subarray(345, 500)) : '';
  return prefix ? `${prefix}/${name}` : name;
}

function readSize(header: Buffer): number | undefined {
  const field = header.subarray(124, 136);
  // Base-256 sizes (first bit set) mean more than 8 GiB: far beyond any size limit.
  if (field[0] >= 0x80) return Number.MAX_SAFE_INTEGER;
  const text = cString(field).trim();
  if (!/^[0-7]*$/.test(text)) return undefined;
  return text ? parseInt(text, 8) : 0;
}

function validChecksum(header: Buffer): boolean {
  const stored = parseInt(cString(header.subarray(148, 156)).trim(), 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  return stored === sum;
}

function paxPath(data: Buffer): string | undefined {
  // Records are "<length> <key>=<value>\n".
  let rest = data.toString('utf8');
  let found: string | undefined;
  while (rest.length > 0) {
    const space = rest.indexOf(' ');
    const length = parseInt(rest.slice(0, space), 10);
    if (!(length > 0)) break;
    const record = Buffer.from(rest, 'utf8').subarray(0, length).toString('utf8');
    const [key, ...value] = record.slice(space + 1, -1).split('=');
    if (key === 'path') found = value.join('=');
    rest = Buffer.from(rest, 'utf8').subarray(length).toString('utf8');
  }
  return found;
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end === -1 ? b.length : end).toString('utf8');
}

/** `./data.json`, `/data.json` and `data.json` are one file, as OPA cleans tar paths. */
function normalize(name: string): string {
  return path.posix.normalize('/' + name).replace(/^\/+/, '');
}
