import { firstValueEnd, indentJson, MAX_JSON_DEPTH, parseExactJson, RawJson, replaceLoneSurrogateEscapes, scanJson, soleMemberSpan, stringifyJson } from '../../runtime/src/json-text';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const spans = (text: string) => {
  const b = bytes(text);
  return scanJson(b).children.map((c) => [c.key, b.toString('utf8', c.start, c.end)]);
};

/** A seeded generator, so a failure names a case that can be run again. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

/** `text` with one to three characters inserted, removed or replaced by one of `alphabet`. */
function mutate(text: string, alphabet: string, next: () => number): string {
  const chars = [...text];
  for (let edits = 1 + Math.floor(next() * 3); edits > 0; edits--) {
    const at = Math.floor(next() * (chars.length + 1));
    const c = alphabet[Math.floor(next() * alphabet.length)];
    const kind = next();
    if (kind < 0.4) chars.splice(at, 0, c);
    else if (kind < 0.7) chars.splice(at, 1);
    else chars.splice(at, 1, c);
  }
  return chars.join('');
}

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
  const sole = (text: string) => {
    const span = soleMemberSpan(bytes(text), bytes('input'));
    return span && bytes(text).toString('utf8', span.start, span.end);
  };

  test.each([
    ['the usual body', '{"input": {"user": "alice"}}', '{"user": "alice"}'],
    ['spaces everywhere', ' {\n "input" :\t[1, 2.50, 1e400] }\n', '[1, 2.50, 1e400]'],
    ['a scalar', '{"input":7}', '7'],
    ['null', '{"input":null}', 'null'],
    ['the key again inside the value', '{"input": {"input": 7}}', '{"input": 7}'],
    ['every kind of value', '{"input":[{},[],{"a":[true,false,null]},"x y",-0,-0.5e+3,1E-7,0.25,12]}', '[{},[],{"a":[true,false,null]},"x y",-0,-0.5e+3,1E-7,0.25,12]'],
  ])('GIVEN %s WHEN read THEN the span is the exact text of the input', (_, text, expected) => {
    expect(sole(text)).toBe(expected);
  });

  test.each([
    ['a repeated key', '{"input": {"a": 1}, "input": {"b": 2}}'],
    ['another member', '{"other": 1, "input": 2}'],
    ['an escaped key', '{"\\u0069nput": 5}'],
    ['an escape in a value', '{"input": "a\\"b"}'],
    ['a body longer than the depth limit', `{"input": "${'x'.repeat(MAX_JSON_DEPTH)}"}`],
    ['a character of more than one byte', '{"input": "é"}'],
    ['a DEL in a string (valid, left to JSON.parse)', '{"input": "\x7f"}'],
    ['a tab in a string', '{"input": "a\tb"}'],
    ['a leading zero', '{"input": 01}'],
    ['a bare minus', '{"input": -}'],
    ['a point without digits after', '{"input": 1.}'],
    ['a point without digits before', '{"input": .5}'],
    ['a plus sign', '{"input": +1}'],
    ['an exponent without digits', '{"input": 1e}'],
    ['a trailing comma in an array', '{"input": [1,]}'],
    ['a trailing comma in an object', '{"input": {"a": 1,}}'],
    ['a trailing comma after the member', '{"input": 1,}'],
    ['a missing comma', '{"input": [1 2]}'],
    ['a missing colon', '{"input" 1}'],
    ['a missing colon inside', '{"input": {"a" 1}}'],
    ['a key that is not a string', '{"input": {1: 2}}'],
    ['an unquoted key', '{input: 1}'],
    ['single quotes', "{'input': 1}"],
    ['a truncated literal', '{"input": tru}'],
    ['a literal with more after it', '{"input": nullx}'],
    ['NaN', '{"input": NaN}'],
    ['an unclosed array', '{"input": [1}'],
    ['an extra closer', '{"input": []]}'],
    ['mismatched closers', '{"input": [1}]}'],
    ['an unclosed string', '{"input": "abc}'],
    ['text after the object', '{"input": 1} x'],
    ['two objects', '{"input": 1}{"input": 2}'],
    ['an unclosed object', '{"input": 1'],
    ['no value', '{"input":}'],
    ['an empty body', ''],
    ['an array', '["input"]'],
  ])('GIVEN %s WHEN read THEN it is left to JSON.parse', (_, text) => {
    expect(sole(text)).toBeUndefined();
  });

  test('GIVEN 30,000 bodies made by mutating valid ones WHEN one is read THEN JSON.parse accepts it with the same input', () => {
    const next = random(13);
    const seeds = [
      '{"input": {"user": "alice", "roles": ["admin", "dev"], "n": -12.5e3}}',
      '{"input":[0,1.25,true,false,null,{"a":{}},[[]]]}',
      ' {"input" : "x"} ',
    ];
    const alphabet = '{}[]":,-+.eE0123456789 \t\ntruefalsn\\\'x';
    let accepted = 0;
    for (let n = 0; n < 30_000; n++) {
      const text = mutate(seeds[n % seeds.length], alphabet, next);
      const span = sole(text);
      if (span === undefined) continue;
      accepted++;
      const parsed = JSON.parse(text) as Record<string, unknown>;
      expect({ text, keys: Object.keys(parsed) }).toEqual({ text, keys: ['input'] });
      expect({ text, input: JSON.parse(span) }).toEqual({ text, input: parsed.input });
    }
    // Enough mutations stay valid for the check to mean something.
    expect(accepted).toBeGreaterThan(3_000);
  });

  test('GIVEN random valid inputs in printable ASCII WHEN read THEN each is taken without JSON.parse, exactly', () => {
    const next = random(7);
    const value = (depth: number): string => {
      const kind = Math.floor(next() * (depth > 4 ? 4 : 6));
      if (kind === 0) return JSON.stringify(String.fromCharCode(...Array.from({ length: Math.floor(next() * 6) }, () => 0x20 + Math.floor(next() * 95))).replace(/["\\]/g, 'q'));
      if (kind === 1) return String(Math.floor((next() - 0.5) * 1e6) / (next() < 0.5 ? 1 : 1000));
      if (kind === 2) return ['true', 'false', 'null'][Math.floor(next() * 3)];
      if (kind === 3) return `${Math.floor(next() * 9)}e${next() < 0.5 ? '-' : '+'}${Math.floor(next() * 30)}`;
      const items = Array.from({ length: Math.floor(next() * 4) }, (_, i) => (kind === 4 ? value(depth + 1) : `"k${i}" : ${value(depth + 1)}`));
      return kind === 4 ? `[ ${items.join(' ,\n')} ]` : `{${items.join(',')}}`;
    };
    for (let n = 0; n < 2_000; n++) {
      const input = value(0);
      expect({ input, read: sole(`{"input":${input}}`) }).toEqual({ input, read: input });
    }
  });
});

describe('firstValueEnd', () => {
  const first = (text: string) => {
    const end = firstValueEnd(bytes(text));
    return end < 0 ? undefined : bytes(text).toString('utf8', 0, end);
  };

  test.each([
    ['text after an object', '{"input": 1} x', '{"input": 1}'],
    ['a second value', ' [1]{"a": 2}', ' [1]'],
    ['escapes of every kind', '"\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\uD83D\\ude00" rest', '"\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\uD83D\\ude00"'],
    ['characters of several bytes', '{"name": "José €"}]', '{"name": "José €"}'],
    ['a scalar', '12.5e-3,', '12.5e-3'],
  ])('GIVEN %s WHEN read THEN the first value is found', (_, text, expected) => {
    expect(first(text)).toBe(expected);
  });

  test.each([
    ['an unknown escape', '"\\x41"'],
    ['a short \\u escape', '"\\u12"'],
    ['a newline inside a string', '"a\nb"'],
    ['an unclosed object', '{"a": 1'],
    ['whitespace only', ' \n '],
    ['nesting past the depth limit', `${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`],
  ])('GIVEN %s WHEN read THEN there is no first value', (_, text) => {
    expect(first(text)).toBeUndefined();
  });

  test('GIVEN nesting at the depth limit WHEN read THEN the value is found', () => {
    const text = `${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)} x`;
    expect(firstValueEnd(bytes(text))).toBe(2 * MAX_JSON_DEPTH);
  });

  test('GIVEN 30,000 mutated texts WHEN read THEN the first value found is one JSON.parse takes, and a valid text is found whole', () => {
    const next = random(29);
    const seed = '{"a": ["x\\u00e9\\n", -1.5e3, true, null, {"é": "€"}], "b": {}}';
    const alphabet = '{}[]":,-.e019 \\unrtx/éfa';
    let found = 0;
    for (let n = 0; n < 30_000; n++) {
      const text = mutate(seed, alphabet, next);
      const end = firstValueEnd(bytes(text));
      let whole: boolean;
      try {
        JSON.parse(text);
        whole = true;
      } catch {
        whole = false;
      }
      if (whole) expect({ text, end }).toEqual({ text, end: bytes(text.trimEnd()).length });
      if (end < 0) continue;
      found++;
      expect(() => JSON.parse(bytes(text).toString('utf8', 0, end))).not.toThrow();
    }
    expect(found).toBeGreaterThan(3_000);
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
    expect(stringifyJson(new RawJson('{"result":{"n":1.0,"a":[1e400]}}'), true)).toBe('{\n  "result": {\n    "n": 1.0,\n    "a": [\n      1e400\n    ]\n  }\n}');
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
    '[123456789012345,1234567890123456789,-123456789012345678,0,-0]',
    '{"a\\\\":"x\\\\","b":"\\"","c":12345678901234567890}',
  ])('GIVEN %s WHEN parsed and stringified THEN every number is written as it was', (text) => {
    expect(stringifyJson(parseExactJson(text))).toBe(text);
  });

  test.each(['{"a": "never closed 12345678901234567890', '{"a": "x\\" 12345678901234567890', '[1.0'])('GIVEN text that is not JSON (%s) WHEN parsed THEN it throws JSON.parse\'s SyntaxError', (text) => {
    expect(() => parseExactJson(text)).toThrow(SyntaxError);
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
