import { gunzipSync, gzipSync } from 'node:zlib';
import { readBundleArchive, readTarArchive } from '../../../runtime/src/engine/bundle-archive';
import { BundleError } from '../../../runtime/src/errors';
import { END_OF_ARCHIVE, gzipPieces, packBundle, packTar, paxRecords, repeated, tarBlocks, TarEntry } from '../../support/bundle-archive';

const LIMITS = { maxFileBytes: 1000, maxTotalBytes: 100_000 };

function read(archive: Buffer, limits = LIMITS, signal?: AbortSignal) {
  return readBundleArchive('b', archive, limits, signal);
}

function gzipTar(entries: TarEntry[], tail: Buffer = END_OF_ARCHIVE): Buffer {
  return gzipSync(Buffer.concat([tarBlocks(entries), tail]));
}

/** Archives that two tar readers could read differently, each gzipped, and what the reader says. */
const hidden = Buffer.concat([tarBlocks([{ path: 'policy.wasm', data: 'evil' }]), END_OF_ARCHIVE]);
const HOSTILE_LIMITS = { maxFileBytes: 2 * 1024 * 1024, maxTotalBytes: 4 * 1024 * 1024 };
const HOSTILE: Array<[string, () => Buffer, string]> = [
  ['a directory that declares a size (its "body" holds entries)', () => gzipTar([{ path: 'a.json', data: '{}' }, { path: 'x/', type: 'Directory', data: hidden }]),
    'bundle b: directory "x/" declares a size'],
  ['a directory given a size by a pax record', () => gzipTar([
    { path: 'PaxHeader', type: 'ExtendedHeader', data: paxRecords({ size: String(hidden.length) }) },
    { path: 'x/', type: 'Directory' },
  ]), 'bundle b: directory "x/" declares a size'],
  ['a single zero block followed by an entry', () => gzipSync(Buffer.concat([tarBlocks([{ path: 'a.json', data: '{}' }]), Buffer.alloc(512), hidden])),
    'bundle b: invalid tar header at offset 1536: data after a single zero block'],
  ['data after the end-of-archive marker', () => gzipTar([{ path: 'a.json', data: '{}' }], Buffer.concat([END_OF_ARCHIVE, hidden])),
    'bundle b: data after the end-of-archive marker'],
  ['a path with a .. segment', () => gzipTar([{ path: 'x/../data.json', data: '{}' }]), 'bundle b: tar entry path "x/../data.json" is not clean'],
  ['a path with a . segment', () => gzipTar([{ path: 'a/./data.json', data: '{}' }]), 'bundle b: tar entry path "a/./data.json" is not clean'],
  ['a path with an empty segment', () => gzipTar([{ path: 'a//data.json', data: '{}' }]), 'bundle b: tar entry path "a//data.json" is not clean'],
  ['a path made absolute twice', () => gzipTar([{ path: '//data.json', data: '{}' }]), 'bundle b: tar entry path "//data.json" is not clean'],
  ['a .. directory', () => gzipTar([{ path: '../', type: 'Directory' }]), 'bundle b: tar entry path "../" is not clean'],
  ['the same file twice after cleaning', () => gzipTar([{ path: '/data.json', data: '{}' }, { path: './data.json', data: '{"a":1}' }]), 'bundle b: file data.json appears more than once'],
  ['a symbolic link', () => gzipTar([{ path: 'link', type: 'SymbolicLink', linkpath: '/etc/passwd' }]), 'bundle b: tar entry "link" has type SymbolicLink (2); a bundle may hold only regular files and directories'],
  ['a hard link', () => gzipTar([{ path: 'a.json', data: '{}' }, { path: 'b.json', type: 'Link', linkpath: 'a.json' }]), 'bundle b: tar entry "b.json" has type Link (1)'],
  ['a contiguous file (type 7)', () => gzipTar([{ path: 'data.json', type: 'ContiguousFile', data: '{}' }]), 'bundle b: tar entry "data.json" has type ContiguousFile (7)'],
  ['a pax size=0 record on a FIFO whose header size covers entries', () => gzipTar([
    { path: 'PaxHeader', type: 'ExtendedHeader', data: paxRecords({ size: '0' }) },
    { path: 'fifo', type: 'FIFO', data: hidden },
  ]), 'bundle b: tar entry "fifo" has type FIFO (6)'],
  ['a GNU dump directory', () => gzipTar([{ path: 'd/', type: 'GNUDumpDir', data: 'x' }]), 'bundle b: tar entry "d/" has type GNUDumpDir (D)'],
  ['a pax record over 1 MiB', () => gzipTar([{ path: 'PaxHeader', type: 'ExtendedHeader', data: Buffer.alloc(1024 * 1024 + 1, 'x') }]),
    'bundle b: tar ExtendedHeader record of 1048577 bytes exceeds 1048576 bytes'],
];

/** Archives that are broken or too large for LIMITS, and what the reader says. */
const BROKEN: Array<[string, () => Buffer, string]> = [
  ['a file over the limit', () => packBundle({ 'small.json': '{}', 'big.json': 'x'.repeat(1001) }), "bundle b: bundle file 'big.json' size (1001 bytes) exceeds configured size_limit_bytes (1000 bytes)"],
  ['a file whose header declares more than the limit (base-256 size)', () => gzipTar([{ path: 'huge', size: 2 ** 40 }]), "bundle b: bundle file 'huge' size (1099511627776 bytes) exceeds configured size_limit_bytes (1000 bytes)"],
  ['files that add up to more than the total limit', () => packBundle(Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`f${i}.json`, 'x'.repeat(900)]))),
    'bundle b: bundle decompresses to more than 100000 bytes (size_limit_bytes)'],
  ['bytes that are not gzip', () => packTar({ 'a.json': '{}' }), 'bundle b: bundle is not a gzip archive (a bundle is a .tar.gz file)'],
  ['a truncated gzip', () => packBundle({ 'a.json': 'x'.repeat(50) }).subarray(0, 30), 'bundle b: bundle is not a valid gzip archive: unexpected end of file'],
  ['gzip of something that is not a tar', () => gzipSync('x'.repeat(600)), 'bundle b: bundle is not a tar archive (bad header checksum)'],
  ['gzip of a short text', () => gzipSync('hello'), 'bundle b: bundle is not a tar archive (no entries)'],
  ['gzip of nothing but zeros', () => gzipSync(Buffer.alloc(2048)), 'bundle b: bundle is not a tar archive (no entries)'],
  ['a tar cut inside a file', () => gzipSync(packTar({ 'a.json': 'x'.repeat(90) }).subarray(0, 560)), 'bundle b: the tar archive is truncated'],
  ['a corrupted second header', () => {
    const tar = packTar({ 'a.json': '{}', 'b.json': '{}' });
    tar[1024 + 10] = 0xff - tar[1024 + 10];
    return gzipSync(tar);
  }, 'bundle b: invalid tar header at offset 1024 (bad checksum)'],
];

describe('readBundleArchive', () => {
  describe('GIVEN a well-formed archive', () => {
    test('WHEN paths have a leading / or ./ and directories are listed THEN files come back clean, in archive order', async () => {
      // GIVEN
      const archive = gzipTar([
        { path: './', type: 'Directory' },
        { path: 'dir/', type: 'Directory' },
        { path: '/.manifest', data: '{}' },
        { path: './a/data.json', data: '{"x":1}' },
        { path: 'old.rego', type: 'OldFile', data: 'package old' },
      ]);
      // WHEN
      const files = await read(archive);
      // THEN
      expect(files.map((f) => [f.path, f.data.toString()])).toEqual([['.manifest', '{}'], ['a/data.json', '{"x":1}'], ['old.rego', 'package old']]);
    });

    test('WHEN a path longer than 100 bytes comes in a pax header or a GNU long name THEN the long path is used', async () => {
      const long = `${'d'.repeat(120)}/data.json`;
      const archive = gzipTar([
        { path: 'PaxHeader', type: 'ExtendedHeader', data: paxRecords({ path: long }) },
        { path: 'short', data: '{}' },
        { path: '././@LongLink', type: 'NextFileHasLongPath', data: `${long}.2\0` },
        { path: 'short2', data: '{}' },
      ]);
      expect((await read(archive)).map((f) => f.path)).toEqual([long, `${long}.2`]);
    });

    test('WHEN zero padding follows the end-of-archive marker THEN it is accepted', async () => {
      const archive = gzipTar([{ path: 'a.json', data: '{}' }], Buffer.alloc(10 * 1024));
      expect((await read(archive)).map((f) => f.path)).toEqual(['a.json']);
    });

    test('WHEN the archive is followed by far more zeros than any limit THEN it is read no further than the marker and a bounded window', async () => {
      // 64 MiB of zeros after the marker, a total limit of 100 kB: reading to the end would exceed it.
      const archive = gzipTar([{ path: 'a.json', data: '{}' }], Buffer.alloc(64 * 1024 * 1024));
      expect((await read(archive)).map((f) => f.path)).toEqual(['a.json']);
    });
  });

  describe('GIVEN an archive that two tar readers could read differently', () => {
    test.each(HOSTILE)('WHEN it holds %s THEN it is refused', async (_what, archive, message) => {
      const result = read(archive(), HOSTILE_LIMITS);
      await expect(result).rejects.toThrow(BundleError);
      await expect(result).rejects.toThrow(message);
    });
  });

  describe('GIVEN an archive that is broken or too large', () => {
    test.each(BROKEN)('WHEN it is %s THEN it is refused', async (_name, archive, message) => {
      await expect(read(archive())).rejects.toThrow(message);
    });

    test('WHEN a gigabyte of non-tar bytes is compressed to a megabyte THEN it fails at the first header, without inflating the rest', async () => {
      // It would inflate to 1 GiB against a total limit of 100 kB: the header's refusal is only
      // reachable when reading stops at the first block.
      const bomb = await gzipPieces(repeated(Buffer.alloc(1024 * 1024, 'x'), 1024));
      await expect(read(bomb)).rejects.toThrow('bundle b: bundle is not a tar archive (bad header checksum)');
    });
  });

  test('GIVEN a signal that has aborted WHEN reading THEN it rejects with the reason', async () => {
    const controller = new AbortController();
    controller.abort(new Error('late'));
    await expect(read(packBundle({ 'a.json': '{}' }), LIMITS, controller.signal)).rejects.toThrow('late');
  });
});

describe('readTarArchive (an embedded bundle the construct inflated at synth)', () => {
  const readTar = (archive: Buffer, limits = LIMITS) => readTarArchive('b', archive, limits);

  test('GIVEN a well-formed archive THEN it reads the same files as the .tar.gz reader', async () => {
    const archive = gzipTar([
      { path: './', type: 'Directory' },
      { path: '/.manifest', data: '{}' },
      { path: 'PaxHeader', type: 'ExtendedHeader', data: paxRecords({ path: `${'d'.repeat(120)}/data.json` }) },
      { path: 'short', data: '{"x":1}' },
    ], Buffer.alloc(10 * 1024));
    const files = readTar(gunzipSync(archive));
    expect(files.map((f) => [f.path, f.data.toString()])).toEqual((await read(archive)).map((f) => [f.path, f.data.toString()]));
    expect(files.map((f) => f.path)).toEqual(['.manifest', `${'d'.repeat(120)}/data.json`]);
  });

  test('GIVEN far more zeros after the end-of-archive marker than any limit THEN it reads no further than the marker and a bounded window', () => {
    const tar = Buffer.concat([packTar({ 'a.json': '{}' }), Buffer.alloc(64 * 1024 * 1024)]);
    expect(readTar(tar).map((f) => f.path)).toEqual(['a.json']);
  });

  test.each(HOSTILE)('GIVEN an archive that holds %s THEN it is refused as the .tar.gz reader refuses it', (_what, archive, message) => {
    expect(() => readTar(gunzipSync(archive()), HOSTILE_LIMITS)).toThrow(BundleError);
    expect(() => readTar(gunzipSync(archive()), HOSTILE_LIMITS)).toThrow(message);
  });

  // The rows about gzip itself have no plain-tar counterpart.
  test.each(BROKEN.filter(([, , message]) => !message.includes('gzip archive')))('GIVEN an archive that is %s THEN it is refused as the .tar.gz reader refuses it', (_what, archive, message) => {
    expect(() => readTar(gunzipSync(archive()))).toThrow(message);
  });

  test.each([
    ['a gzip archive (a .tar.gz named .tar)', () => packBundle({ 'a.json': '{}' }), 'bundle b: bundle is not a tar archive'],
    ['a short text', () => Buffer.from('this is not a tar archive'), 'bundle b: bundle is not a tar archive (no entries)'],
    ['a text longer than a block', () => Buffer.alloc(600, 'x'), 'bundle b: bundle is not a tar archive (bad header checksum)'],
    ['empty', () => Buffer.alloc(0), 'bundle b: bundle is not a tar archive (no entries)'],
  ])('GIVEN bytes that are %s THEN they are refused at the first block', (_what, bytes, message) => {
    expect(() => readTar(bytes())).toThrow(message);
  });
});
