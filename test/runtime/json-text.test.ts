import { indentJson, MAX_JSON_DEPTH, parseExactJson, RawJson, replaceLoneSurrogateEscapes, scanJson, soleMemberSpan, stringifyJson } from '../../runtime/src/json-text';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const spans = (text: string) => {
  const b = bytes(text);
  return scanJson(b).children.map((c) => [c.key, b.toString('utf8', c.start, c.end)]);
};

describe('scanJson', () => {
  test.each([
    ['an object', '{"input": {"n": 9007199254740993}, "x": [1, "}"]}', [['input', '{"n": 9007199254740993}'], ['x', '[1, "}"]']]],
    ['an array', '[1e400, "a\\"b", {}]', [['0', '1e400'], ['1', '"a\\"b"'], ['2', '{}']]],
    ['empty containers', '{}', []],
    ['an escaped key', '{"\\u0069nput": 1}', [['input', '1']]],
    ['a scalar', '12345678901234567890', []],
    ['multi-byte text before a value', '{"é": "ü", "n": 1.0}', [['é', '"ü"'], ['n', '1.0']]],
  ])('GIVEN %s WHEN scanned THEN each child is the exact text of its value', (_, text, expected) => {
    expect(spans(text)).toEqual(expected);
  });

  test('GIVEN nesting at the limit and one past it WHEN scanned THEN only the deeper one is too deep, naming its bracket', () => {
    const at = `{"input": ${'['.repeat(MAX_JSON_DEPTH - 1)}${']'.repeat(MAX_JSON_DEPTH - 1)}}`;
    const past = `{"input": {"a": ${'['.repeat(MAX_JSON_DEPTH - 1)}${']'.repeat(MAX_JSON_DEPTH - 1)}}}`;

    const scan = scanJson(bytes(at));
    expect(scan.depth).toBe(MAX_JSON_DEPTH);
    expect(scan.tooDeep).toBeUndefined();
    expect(scanJson(bytes(past))).toMatchObject({ tooDeep: '[' });
  });

  test.each([
    ['a lone high surrogate', '"\\ud800"', true],
    ['a lone low surrogate in capitals', '"\\uDC00"', true],
    ['a basic escape', '"\\u00e9"', false],
    ['an escaped backslash before ud800', '"\\\\ud800"', false],
  ])('GIVEN %s WHEN scanned THEN surrogateEscapes says whether to look closer', (_, text, expected) => {
    expect(scanJson(bytes(text)).surrogateEscapes).toBe(expected);
  });
});

describe('soleMemberSpan', () => {
  const INPUT = '"input"';
  const sole = (text: string) => {
    const span = soleMemberSpan(text, bytes(text), JSON.parse(text) as object, INPUT);
    return span && bytes(text).toString('utf8', span.start, span.end).trim();
  };

  test.each([
    ['the usual body', '{"input": {"user": "alice"}}', '{"user": "alice"}'],
    ['spaces everywhere', ' {\n "input" :\t[1, 2.50, 1e400] }\n', '[1, 2.50, 1e400]'],
    ['a scalar', '{"input":7}', '7'],
  ])('GIVEN %s WHEN read THEN the span is the exact text of the input', (_, text, expected) => {
    expect(sole(text)).toBe(expected);
  });

  test.each([
    ['a repeated key', '{"input": {"a": 1}, "input": {"b": 2}}'],
    ['the key written again inside', '{"input": {"input": 7}}'],
    ['another member', '{"other": 1, "input": 2}'],
    ['an escaped key', '{"\\u0069nput": 5}'],
    ['an escape in a value', '{"input": "a\\"b"}'],
    ['a body longer than the depth limit', `{"input": "${'x'.repeat(MAX_JSON_DEPTH)}"}`],
    ['a character of more than one byte (text and bytes indexed differently)', '{"input": "é"}'],
  ])('GIVEN %s WHEN read THEN it is left to a scan', (_, text) => {
    expect(sole(text)).toBeUndefined();
  });
});

describe('replaceLoneSurrogateEscapes', () => {
  test.each([
    ['"\\ud800"', '"\\ufffd"'],
    ['"\\ud800\\udc00x\\udc00"', '"\\ud800\\udc00x\\ufffd"'],
    ['"\\uD800\\u0041"', '"\\ufffd\\u0041"'],
    ['"\\\\ud800"', '"\\\\ud800"'],
    ['"ab\\ud83d"', '"ab\\ufffd"'],
  ])('GIVEN %s THEN lone surrogates become U+FFFD and pairs stay', (text, expected) => {
    expect(replaceLoneSurrogateEscapes(text)).toBe(expected);
  });
});

describe('stringifyJson', () => {
  test('GIVEN raw JSON inside a response WHEN stringified THEN its text is kept as written', () => {
    const body = { decision_id: 'x', result: new RawJson('{"n":9007199254740993,"m":1e400,"z":-0,"f":1.0}') };

    expect(stringifyJson(body)).toBe('{"decision_id":"x","result":{"n":9007199254740993,"m":1e400,"z":-0,"f":1.0}}');
    expect(stringifyJson(new RawJson('123456789012345678901234567890'))).toBe('123456789012345678901234567890');
  });

  test('GIVEN a client string that looks like the placeholder WHEN stringified THEN it stays a string', () => {
    expect(stringifyJson({ a: '\u0000raw-0', result: new RawJson('1') })).toBe('{"a":"\\u0000raw-0","result":1}');
  });

  test.each([
    { a: [1, { b: [] }, {}], s: 'x:{y},[z]', n: null },
    [[], [[1]], 'q"u\\o"te'],
    {},
  ])('GIVEN %j WHEN pretty THEN the text is what JSON.stringify(v, null, 2) writes, as OPA does', (value) => {
    expect(indentJson(JSON.stringify(value))).toBe(JSON.stringify(value, null, 2));
    expect(stringifyJson({ result: new RawJson(JSON.stringify(value)) }, true)).toBe(JSON.stringify({ result: value }, null, 2));
  });
});

describe('parseExactJson', () => {
  test.each([
    '{"n":9007199254740993}',
    '123456789012345678901234567890',
    '[1e400,-1E+400,1.0,-0,0.1000000000000000000000000001,2.50,1e2]',
    '{"a":{"b":[7,9007199254740993.0,"9007199254740993"]},"c":-0.0}',
  ])('GIVEN %s WHEN parsed and stringified THEN every number is written as it was', (text) => {
    expect(stringifyJson(parseExactJson(text))).toBe(text);
  });

  test('GIVEN numbers JavaScript writes back as they are WHEN parsed THEN they are plain numbers', () => {
    expect(parseExactJson('{"a":[1,-2,3.5,1e+21,"1.0"],"b":true,"c":null}')).toEqual({ a: [1, -2, 3.5, 1e21, '1.0'], b: true, c: null });
  });

  test('GIVEN an inexact number WHEN parsed THEN it is a RawJson leaf holding its text, and its neighbours are values', () => {
    const value = parseExactJson('{"big":9007199254740993,"s":"x\\"9007199254740993","n":2}') as Record<string, unknown>;

    expect(value.big).toBeInstanceOf(RawJson);
    expect((value.big as RawJson).text).toBe('9007199254740993');
    expect(value.s).toBe('x"9007199254740993');
    expect(value.n).toBe(2);
  });

  test('GIVEN a key __proto__ and an inexact number WHEN parsed THEN the key stays an own member', () => {
    const value = parseExactJson('{"__proto__":{"n":1.0}}') as Record<string, unknown>;

    expect(Object.keys(value)).toEqual(['__proto__']);
    expect(stringifyJson(value)).toBe('{"__proto__":{"n":1.0}}');
  });
});
