import { DocumentBuilder } from '../../../runtime/src/engine/documents';

describe('DocumentBuilder', () => {
  test('GIVEN documents sharing objects WHEN merged THEN objects merge key by key and no document added is modified', () => {
    // GIVEN
    const a = { app: { rbac: { grants: { admin: ['write'] } } } };
    const b = { app: { multi: { users: ['u1'] } } };
    const c = { app: { rbac: { bindings: { alice: ['admin'] } } } };
    const before = JSON.stringify([a, b, c]);
    const builder = new DocumentBuilder();
    // WHEN
    for (const doc of [a, b, c]) builder.add(doc);
    // THEN
    expect(builder.document).toEqual({ app: { rbac: { grants: { admin: ['write'] }, bindings: { alice: ['admin'] } }, multi: { users: ['u1'] } } });
    expect(JSON.stringify([a, b, c])).toBe(before);
  });

  test.each([
    ['a value under an existing value', [{ a: { b: 1 } }, { a: { b: { c: 2 } } }], 'two values for /a/b'],
    ['an array over an object', [{ a: { b: {} } }, { a: { b: [] } }], 'two values for /a/b'],
    ['the same scalar twice', [{ x: 1 }, { x: 1 }], 'two values for /x'],
  ])('GIVEN %s WHEN merged THEN it throws naming the path', (_what, docs, message) => {
    const builder = new DocumentBuilder();
    expect(() => docs.forEach((d) => builder.add(d as Record<string, unknown>))).toThrow(message);
  });

  test('GIVEN a __proto__ key WHEN merged THEN it stays data and pollutes nothing', () => {
    const builder = new DocumentBuilder();
    builder.add(JSON.parse('{"__proto__": {"polluted": true}}'));
    builder.add(JSON.parse('{"__proto__": {"more": 1}}'));
    expect(Object.keys(builder.document)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
