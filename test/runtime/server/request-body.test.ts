/**
 * The size in OPA's "request body too large" message. The expected texts were printed by OPA's own
 * `formatBytes` (`v1/util/read_gzip_body.go`, OPA 1.22.2) run with Go, ties included: Go's `%.1f`
 * rounds an exact half to even.
 */
import { formatBytes } from '../../../runtime/src/server/request-body';

describe('formatBytes', () => {
  test.each([
    [1, '1 bytes'],
    [1023, '1023 bytes'],
    [1024, '1 KiB'],
    [1075, '1 KiB'],
    [1126, '1.1 KiB'],
    [1127, '1.1 KiB'],
    [1280, '1.2 KiB'],
    [1331, '1.3 KiB'],
    [1408, '1.4 KiB'],
    [4116, '4 KiB'],
    [297779, '290.8 KiB'],
    [1048575, '1024 KiB'],
    [1048576, '1 MiB'],
    [268435456, '256 MiB'],
    [300000000, '286.1 MiB'],
    [1610612736, '1.5 GiB'],
    [3298534883328, '3 TiB'],
  ])('WHEN the size is %d bytes THEN it reads %s, as OPA writes it', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });
});
