import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { readArchiveFiles } from '../../../../runtime/src/plugins/bundle/archive';
import { packBundle, packTar } from '../../../support/bundle-archive';

function rawTar(entries: Array<{ path: string; type: 'File' | 'Directory' | 'SymbolicLink' | 'ExtendedHeader' | 'GNUDumpDir'; data?: Buffer; linkpath?: string }>): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const header = Buffer.alloc(512);
    new Header({ path: e.path, mode: 0o644, size: data.length, type: e.type, mtime: new Date(0), linkpath: e.linkpath }).encode(header, 0);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function pax(records: Record<string, string>): Buffer {
  return Buffer.from(Object.entries(records).map(([k, v]) => {
    const body = ` ${k}=${v}\n`;
    let length = body.length + 1;
    while (String(length).length + body.length !== length) length++;
    return `${length}${body}`;
  }).join(''));
}

describe('readArchiveFiles', () => {
  test('GIVEN paths with and without a leading / or ./ WHEN read THEN they are normalized and directories skipped', async () => {
    // GIVEN
    const archive = gzipSync(rawTar([
      { path: 'dir/', type: 'Directory' },
      { path: '/.manifest', type: 'File', data: Buffer.from('{}') },
      { path: './a/data.json', type: 'File', data: Buffer.from('{"x":1}') },
      { path: 'link', type: 'SymbolicLink', linkpath: '/etc/passwd' },
    ]));
    // WHEN
    const files = await readArchiveFiles('b', archive, 1000);
    // THEN
    expect(files.map((f) => [f.path, f.data.toString()])).toEqual([['.manifest', '{}'], ['a/data.json', '{"x":1}']]);
  });

  test('GIVEN a path longer than 100 bytes in a pax header WHEN read THEN the long path is used', async () => {
    const long = `${'d'.repeat(120)}/data.json`;
    const archive = gzipSync(rawTar([
      { path: 'PaxHeader', type: 'ExtendedHeader', data: pax({ path: long }) },
      { path: 'short', type: 'File', data: Buffer.from('{}') },
    ]));
    expect((await readArchiveFiles('b', archive, 1000)).map((f) => f.path)).toEqual([long]);
  });

  test.each<[string, () => Buffer, string]>([
    ['a file over the limit', () => packBundle({ 'small.json': '{}', 'big.json': 'x'.repeat(101) }), "bundle b: bundle file 'big.json' size (101 bytes) exceeds configured size_limit_bytes (100 bytes)"],
    ['bytes that are not gzip', () => packTar({ 'a.json': '{}' }), 'bundle b: bundle is not a valid gzip archive: incorrect header check'],
    ['a truncated gzip', () => packBundle({ 'a.json': 'x'.repeat(50) }).subarray(0, 30), 'bundle b: bundle is not a valid gzip archive: unexpected end of file'],
    ['gzip of something that is not a tar', () => gzipSync('x'.repeat(600)), 'bundle b: bundle is not a tar archive (bad header checksum)'],
    ['gzip of a short text', () => gzipSync('hello'), 'bundle b: bundle is not a tar archive (no entries)'],
    ['a tar cut inside a file', () => gzipSync(packTar({ 'a.json': 'x'.repeat(90) }).subarray(0, 560)), 'bundle b: bundle tar archive is truncated'],
  ])('GIVEN %s WHEN read THEN it is refused', async (_name, archive, message) => {
    await expect(readArchiveFiles('b', archive(), 100)).rejects.toThrow(message);
  });

  test('GIVEN a signal that aborts WHEN reading THEN it rejects with the reason', async () => {
    const controller = new AbortController();
    controller.abort(new Error('late'));
    await expect(readArchiveFiles('b', packBundle({ 'a.json': '{}' }), 100, controller.signal)).rejects.toThrow('late');
  });
});
