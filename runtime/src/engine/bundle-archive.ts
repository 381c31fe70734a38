/**
 * The one reader of bundle archives (`.tar.gz`, and the `.tar` the construct embeds). Downloaded,
 * persisted and embedded bundles all pass through it, and everything that judges a bundle (size
 * limits, the signature, activation) reads the list of files it returns: nothing reads the archive
 * a second time, so no two parsers can disagree about what a bundle holds.
 *
 * Header blocks are decoded by node-tar's `Header` and pax records by its `Pax`; this module owns
 * the rules of what it accepts, which are stricter than tar itself and at least as strict as OPA's
 * reader (Go's `archive/tar` under `v1/bundle/file.go`), because every leniency is a place where
 * an archive can mean two things:
 * - only regular files, directories and the metadata entries that name them (pax `x`/`g`, GNU
 *   long names `L`) are accepted; links, devices, FIFOs, contiguous files and the rest are refused;
 * - a path must be clean: one leading `/` or `./` is allowed (`opa build` and `tar -C dir .` write
 *   them), then no empty, `.` or `..` segment; two files with the same clean path are refused;
 * - a directory may not declare a size;
 * - a zero block must be followed by a second one (the end-of-archive marker), and what follows
 *   the marker must be zero padding;
 * - every file is at most `maxFileBytes` (OPA's `size_limit_bytes`, checked on its header, before
 *   its data is inflated) and the archive inflates to at most `maxTotalBytes` in all.
 *
 * The archive is inflated once, as a stream, and the reader stops at the end-of-archive marker,
 * so memory holds the accepted files and one chunk, never the decompressed archive. Bytes that
 * are not tar fail at the first header.
 */
import { addAbortSignal } from 'node:stream';
import { createGunzip } from 'node:zlib';
// The runtime is bundled by esbuild: its dependencies are inlined, so dev dependencies are right.
import { Header } from 'tar/header';
import { Pax } from 'tar/pax';
import { BundleError } from '../errors';

/** One regular file of a bundle, its path relative to the bundle root (no leading `/`). */
export interface BundleFile {
  readonly path: string;
  readonly data: Buffer;
}

export interface ArchiveLimits {
  /** Largest file, in bytes (OPA's `size_limit_bytes`). */
  readonly maxFileBytes: number;
  /** Largest decompressed archive, in bytes: headers, files and their padding up to the end marker. */
  readonly maxTotalBytes: number;
}

/** OPA's `bundle.DefaultSizeLimitBytes`: 1 GiB, a guard against gzip bombs. */
export const DEFAULT_SIZE_LIMIT_BYTES = 1024 * 1024 * 1024;

/**
 * The limits a bundle's `size_limit_bytes` sets: each file, as in OPA, and the whole inflated
 * archive, since all of it sits in the function's memory.
 */
export function archiveLimits(sizeLimitBytes: number = DEFAULT_SIZE_LIMIT_BYTES): ArchiveLimits {
  return { maxFileBytes: sizeLimitBytes, maxTotalBytes: sizeLimitBytes };
}

const BLOCK = 512;
/** Largest pax or GNU long-name record accepted (node-tar's own default). */
const MAX_META_BYTES = 1024 * 1024;
/**
 * Zero padding read after the end-of-archive marker before the reader stops. Tar writers pad to a
 * record (10 KiB for GNU tar); a bundle followed by a gigabyte of zeros is read no further.
 */
const MAX_TRAILER_BYTES = 1024 * 1024;
const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Reads the files of a bundle archive, in archive order. Every problem is a {@link BundleError}
 * naming `bundle`; an abort rejects with the signal's reason.
 */
export async function readBundleArchive(bundle: string, archive: Buffer, limits: ArchiveLimits, signal?: AbortSignal): Promise<BundleFile[]> {
  if (signal?.aborted) throw signal.reason;
  if (archive.length < 2 || archive[0] !== GZIP_MAGIC[0] || archive[1] !== GZIP_MAGIC[1]) {
    throw new BundleError(bundle, 'bundle is not a gzip archive (a bundle is a .tar.gz file)');
  }
  const reader = new TarReader(bundle, limits);
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  if (signal) addAbortSignal(signal, gunzip);
  gunzip.end(archive);
  try {
    for await (const chunk of gunzip) {
      if (reader.push(chunk as Buffer)) break;
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (err instanceof BundleError) throw err;
    throw new BundleError(bundle, `bundle is not a valid gzip archive: ${(err as Error).message}`, { cause: err });
  } finally {
    gunzip.destroy();
  }
  return reader.finish();
}

/**
 * Reads the files of an uncompressed tar archive, as the construct embeds a small bundle
 * (`<name>.tar`, see `LAYER_LAYOUT`), by the same rules and limits as {@link readBundleArchive}:
 * it costs no gunzip (a stream, and a trip through libuv's thread pool). Every problem is a
 * {@link BundleError} naming `bundle`.
 */
export function readTarArchive(bundle: string, archive: Buffer, limits: ArchiveLimits): BundleFile[] {
  const reader = new TarReader(bundle, limits);
  reader.push(archive);
  return reader.finish();
}

type State =
  | { readonly kind: 'header' }
  /** One zero block seen: the next must be zero too. */
  | { readonly kind: 'zero' }
  /** After the end-of-archive marker: only zero padding. */
  | { readonly kind: 'trailer'; seen: number }
  | { readonly kind: 'body'; readonly target: 'file' | 'meta'; readonly header: Header; remaining: number; padding: number; readonly chunks: Buffer[] };

/** A push parser over the decompressed stream, one state per place in the block structure. */
class TarReader {
  private readonly files: BundleFile[] = [];
  private readonly paths = new Set<string>();
  private state: State = { kind: 'header' };
  private partial: Buffer | undefined;
  /** Decompressed bytes consumed before the end-of-archive marker. */
  private offset = 0;
  private entries = 0;
  /** Pax records (and GNU long names) for the next entry, and global pax records. */
  private ex: Pax | undefined;
  private gex: Pax | undefined;

  public constructor(private readonly bundle: string, private readonly limits: ArchiveLimits) {}

  /** Consumes a chunk; returns true once nothing more needs to be read. */
  public push(chunk: Buffer): boolean {
    const buf = this.partial ? Buffer.concat([this.partial, chunk]) : chunk;
    this.partial = undefined;
    let pos = 0;
    while (pos < buf.length) {
      const state = this.state;
      if (state.kind === 'trailer') {
        const end = Math.min(buf.length, pos + MAX_TRAILER_BYTES - state.seen);
        for (let i = pos; i < end; i++) {
          if (buf[i] !== 0) throw this.error('data after the end-of-archive marker');
        }
        state.seen += end - pos;
        return state.seen >= MAX_TRAILER_BYTES;
      }
      if (state.kind === 'body') {
        pos += this.consumeBody(state, buf, pos);
        continue;
      }
      if (buf.length - pos < BLOCK) {
        this.partial = Buffer.from(buf.subarray(pos));
        return false;
      }
      this.consumeBlock(buf.subarray(pos, pos + BLOCK));
      pos += BLOCK;
    }
    return false;
  }

  /** The files, once the stream has ended; throws when it ended inside an entry. */
  public finish(): BundleFile[] {
    if (this.entries === 0) throw this.error('bundle is not a tar archive (no entries)');
    if (this.state.kind === 'body' || this.partial) throw this.error('the tar archive is truncated');
    return this.files;
  }

  private consumeBlock(block: Buffer): void {
    const state = this.state;
    if (isZero(block)) {
      // Go's archive/tar: two zero blocks end the archive; one alone followed by more is an invalid header.
      this.state = state.kind === 'zero' ? { kind: 'trailer', seen: 0 } : { kind: 'zero' };
      this.count(BLOCK);
      return;
    }
    if (state.kind === 'zero') throw this.error(`invalid tar header at offset ${this.offset}: data after a single zero block`);
    const at = this.offset;
    this.count(BLOCK);
    let header: Header;
    try {
      header = new Header(block, 0, this.ex, this.gex);
    } catch (err) {
      throw this.error(`invalid tar header at offset ${at}: ${(err as Error).message}`, err);
    }
    if (!header.cksumValid) {
      throw this.error(this.entries === 0 ? 'bundle is not a tar archive (bad header checksum)' : `invalid tar header at offset ${at} (bad checksum)`);
    }
    this.entries++;
    const size = header.size ?? 0;
    if (!Number.isSafeInteger(size) || size < 0) throw this.error(`invalid size for tar entry ${JSON.stringify(header.path)}`);

    switch (header.type) {
      case 'ExtendedHeader':
      case 'GlobalExtendedHeader':
      case 'NextFileHasLongPath':
        if (size > MAX_META_BYTES) throw this.error(`tar ${header.type} record of ${size} bytes exceeds ${MAX_META_BYTES} bytes`);
        this.startBody(header, 'meta', size);
        return;
      case 'Directory': {
        // node-tar reads a directory's size as 0, as Go does; a declared size is refused, since a
        // reader that honoured it would skip what the others read as entries.
        if (declaresSize(block) || (this.ex?.size ?? 0) > 0) throw this.error(`directory ${JSON.stringify(header.path)} declares a size`);
        cleanPath(this.bundle, header.path ?? '', true);
        this.ex = undefined;
        return;
      }
      case 'File':
      case 'OldFile': {
        const path = cleanPath(this.bundle, header.path ?? '', false);
        if (this.paths.has(path)) throw this.error(`file ${path} appears more than once`);
        this.paths.add(path);
        if (size > this.limits.maxFileBytes) {
          throw this.error(`bundle file '${path}' size (${size} bytes) exceeds configured size_limit_bytes (${this.limits.maxFileBytes} bytes)`);
        }
        this.ex = undefined;
        this.startBody(header, 'file', size);
        return;
      }
      default:
        throw this.error(`tar entry ${JSON.stringify(header.path)} has type ${header.type} (${header.typeKey}); a bundle may hold only regular files and directories`);
    }
  }

  private startBody(header: Header, target: 'file' | 'meta', size: number): void {
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    // Checked on the header, so an oversized archive is refused before its data is inflated.
    this.checkTotal(this.offset + size + padding);
    this.state = { kind: 'body', target, header, remaining: size, padding, chunks: [] };
    if (size === 0) this.endBody(this.state);
  }

  private consumeBody(state: Extract<State, { kind: 'body' }>, buf: Buffer, pos: number): number {
    const available = buf.length - pos;
    if (state.remaining > 0) {
      const n = Math.min(state.remaining, available);
      state.chunks.push(buf.subarray(pos, pos + n));
      state.remaining -= n;
      this.count(n);
      if (state.remaining === 0 && state.padding === 0) this.endBody(state);
      return n;
    }
    const n = Math.min(state.padding, available);
    state.padding -= n;
    this.count(n);
    if (state.padding === 0) this.endBody(state);
    return n;
  }

  private endBody(state: Extract<State, { kind: 'body' }>): void {
    this.state = { kind: 'header' };
    const data = Buffer.concat(state.chunks);
    const { header } = state;
    if (state.target === 'file') {
      this.files.push({ path: cleanPath(this.bundle, header.path ?? '', false), data });
      return;
    }
    const text = data.toString('utf8');
    if (header.type === 'ExtendedHeader') this.ex = Pax.parse(text, this.ex, false);
    else if (header.type === 'GlobalExtendedHeader') this.gex = Pax.parse(text, this.gex, true);
    else this.ex = Object.assign(this.ex ?? new Pax({}), { path: text.replace(/\0.*$/s, '') });
  }

  private count(n: number): void {
    this.offset += n;
    this.checkTotal(this.offset);
  }

  private checkTotal(bytes: number): void {
    if (bytes > this.limits.maxTotalBytes) {
      throw this.error(`bundle decompresses to more than ${this.limits.maxTotalBytes} bytes (size_limit_bytes)`);
    }
  }

  private error(message: string, cause?: unknown): BundleError {
    return new BundleError(this.bundle, message, cause === undefined ? undefined : { cause });
  }
}

/**
 * The path of an entry relative to the bundle root, or throws when it is not clean. A directory
 * may be the root itself (`./`); a file may not.
 */
function cleanPath(bundle: string, raw: string, directory: boolean): string {
  let path = raw.startsWith('./') ? raw.slice(2) : raw.startsWith('/') ? raw.slice(1) : raw;
  if (directory && path.endsWith('/')) path = path.slice(0, -1);
  if (path === '' && directory) return path;
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\0'))) {
    throw new BundleError(bundle, `tar entry path ${JSON.stringify(raw)} is not clean (empty, '.' or '..' segments)`);
  }
  return path;
}

function isZero(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** True when the header's size field (octal text, or base-256 when its high bit is set) is not zero. */
function declaresSize(block: Buffer): boolean {
  return block[124] >= 0x80 || /[1-7]/.test(block.toString('latin1', 124, 136));
}
