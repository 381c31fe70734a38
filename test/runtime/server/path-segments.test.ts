import { pathSegments } from '../../../runtime/src/server/decision';
import { ApiError } from '../../../runtime/src/server/errors';

describe('pathSegments', () => {
  test.each([
    ['a plain path', 'app/rbac/allow', ['app', 'rbac', 'allow']],
    ['an encoded slash, kept inside its segment', 'app/a%2Fb/c', ['app', 'a/b', 'c']],
    ['empty segments', 'app//rbac/', ['app', 'rbac']],
    ['no path', '', []],
  ])('GIVEN %s THEN each segment is decoded on its own, the first time and again', (_what, rest, expected) => {
    expect(pathSegments(rest)).toEqual(expected);
    expect(pathSegments(rest)).toEqual(expected);
  });

  test('WHEN a path is asked again THEN its segments are not decoded again', () => {
    expect(pathSegments('app/again/allow')).toBe(pathSegments('app/again/allow'));
  });

  test('WHEN a segment is malformed THEN every ask is refused with 400', () => {
    for (let i = 0; i < 2; i++) {
      expect(() => pathSegments('app/%zz')).toThrow(ApiError);
      expect(() => pathSegments('app/%zz')).toThrow(/malformed percent-encoding/);
    }
  });

  test('WHEN many different and long paths are asked THEN each still decodes to its own segments', () => {
    const long = `app/${'x'.repeat(1000)}/allow`;
    for (let i = 0; i < 1000; i++) {
      expect(pathSegments(`app/p${i}/allow`)).toEqual(['app', `p${i}`, 'allow']);
      expect(pathSegments(long)).toEqual(['app', 'x'.repeat(1000), 'allow']);
    }
    expect(pathSegments('app/p0/allow')).toEqual(['app', 'p0', 'allow']);
  });
});
