/**
 * The server's part of OPA's configuration: `server.decoding.max_length`,
 * `server.decoding.gzip.max_length` and `server.encoding.gzip.min_length`
 * (https://www.openpolicyagent.org/docs/configuration#server).
 */
import { parseExtensionConfig } from '../../../runtime/src/config/extension-config';

describe('parseExtensionConfig server limits', () => {
  test('GIVEN no server section WHEN parsed THEN every limit is left to the server defaults', () => {
    expect(parseExtensionConfig({}).server).toEqual({ maxBodyBytes: undefined, maxDecompressedBodyBytes: undefined, gzipMinLength: undefined });
  });

  test('GIVEN OPA server limits WHEN parsed THEN they are read in bytes', () => {
    const config = parseExtensionConfig({
      server: { decoding: { max_length: 1024, gzip: { max_length: 4096 } }, encoding: { gzip: { min_length: 512, compression_level: 9 } } },
    });

    expect(config.server).toEqual({ maxBodyBytes: 1024, maxDecompressedBodyBytes: 4096, gzipMinLength: 512 });
  });

  test.each([
    [{ decoding: { max_length: 0 } }, 'server.decoding.max_length must be a positive whole number of bytes, got 0'],
    [{ decoding: { gzip: { max_length: '1MB' } } }, 'server.decoding.gzip.max_length must be a positive whole number of bytes, got "1MB"'],
    [{ encoding: { gzip: { min_length: 1.5 } } }, 'server.encoding.gzip.min_length must be a positive whole number of bytes, got 1.5'],
    [{ decoding: [] }, 'server.decoding must be an object, got []'],
  ])('GIVEN server %j WHEN parsed THEN it is refused', (server, message) => {
    expect(() => parseExtensionConfig({ server })).toThrow(message);
  });
});
