/**
 * JSON kept as text. OPA keeps numbers as written (Go's `json.Decoder.UseNumber`), and so does the
 * Wasm policy engine, but a JavaScript round trip does not: `9007199254740993` becomes `...992`,
 * `1e400` becomes `null`, `1.0` becomes `1`. So the server hands the request's input to the engine
 * as the bytes the client sent, and the engine's result back to the client as the text the policy
 * wrote; this module finds the parts of a JSON text without building JavaScript values.
 */
import { isUtf8 } from 'node:buffer';

/**
 * Go's `encoding/json` refuses a document nested deeper than this (`maxNestingDepth`), and OPA's
 * server answers 400 `invalid_parameter` "invalid character '[' exceeded max depth". The depth
 * counts every level of the body, the object around `input` included.
 */
export const MAX_JSON_DEPTH = 10_000;

/** One member of an object (`key`) or element of an array (`index`): its value's bytes are `[start, end)`. */
export interface JsonChild {
  readonly key: string;
  readonly start: number;
  readonly end: number;
}

export interface JsonScan {
  /** The deepest nesting reached; 0 for a scalar. */
  readonly depth: number;
  /** Set when the depth passed {@link MAX_JSON_DEPTH}: the bracket (`[` or `{`) that opened the level too many. */
  readonly tooDeep?: string;
  /** The members of the value when it is an object, the elements when it is an array (keys are `0`, `1`, ...). */
  readonly children: JsonChild[];
  /** An escape `\uD800`–`\uDFFF` occurs: the text may hold a lone surrogate. */
  readonly surrogateEscapes: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
export const OPEN_BRACE = 0x7b;
export const CLOSE_BRACE = 0x7d;
export const OPEN_BRACKET = 0x5b;
export const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

export function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Scans the JSON value in `bytes[start, end)`, which must be valid JSON (the caller has parsed it,
 * or it comes from the policy engine). Stops early once the depth passes `maxDepth`.
 */
export function scanJson(bytes: Uint8Array, start = 0, end = bytes.length, maxDepth = MAX_JSON_DEPTH): JsonScan {
  let depth = 0;
  let deepest = 0;
  let surrogateEscapes = false;
  const children: JsonChild[] = [];
  let topIsObject = false;
  let expectKey = false;
  let key = '';
  let valueStart = -1;
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c === QUOTE) {
      const from = i;
      for (i++; i < end && bytes[i] !== QUOTE; i++) {
        if (bytes[i] !== BACKSLASH) continue;
        // \uD800–\uDFFF: `u`, then `d`/`D`, then 8–9 or a–f/A–F.
        if (bytes[i + 1] === 0x75 && (bytes[i + 2] === 0x64 || bytes[i + 2] === 0x44)) {
          const d = bytes[i + 3];
          if (d === 0x38 || d === 0x39 || (d >= 0x61 && d <= 0x66) || (d >= 0x41 && d <= 0x46)) surrogateEscapes = true;
        }
        i++;
      }
      if (depth === 1 && expectKey) {
        key = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + from, i + 1 - from).toString('utf8')) as string;
        expectKey = false;
      }
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (depth > maxDepth) return { depth, tooDeep: String.fromCharCode(c), children, surrogateEscapes };
      }
      if (depth === 1) {
        topIsObject = c === OPEN_BRACE;
        expectKey = topIsObject;
        valueStart = i + 1;
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth === 1) closeChild(bytes, children, topIsObject ? key : undefined, valueStart, i);
      depth--;
    } else if (depth === 1) {
      if (c === COLON) {
        valueStart = i + 1;
      } else if (c === COMMA) {
        closeChild(bytes, children, topIsObject ? key : undefined, valueStart, i);
        expectKey = topIsObject;
        valueStart = i + 1;
      }
    }
  }
  return { depth: deepest, children, surrogateEscapes };
}

/** Adds the value in `bytes[from, to)`, trimmed, to `children` (named `key`, or by its index in an array); a function of its own, not a closure per scan. */
function closeChild(bytes: Uint8Array, children: JsonChild[], key: string | undefined, from: number, to: number): void {
  let a = from;
  let b = to;
  while (a < b && isSpace(bytes[a])) a++;
  while (b > a && isSpace(bytes[b - 1])) b--;
  if (b > a) children.push({ key: key ?? String(children.length), start: a, end: b });
}

/** The child named `key`; the last one when a key repeats, as JSON.parse and Go take it. */
export function lastChild(children: readonly JsonChild[], key: string): JsonChild | undefined {
  for (let i = children.length - 1; i >= 0; i--) if (children[i].key === key) return children[i];
  return undefined;
}

/**
 * The span of the value of the JSON object's only member, when that member is `key` (ASCII bytes):
 * the usual request body, `{"input": ...}`, checked and found in one pass over the bytes instead
 * of JSON.parse and a scan. It answers only for a text it can be sure of: at most
 * {@link MAX_JSON_DEPTH} bytes (so not nested too deeply), printable ASCII between quotes and JSON's
 * grammar (RFC 8259) outside them, and no backslash (so no escapes, and the key written as it is).
 * Anything else, valid or not, is undefined and left to JSON.parse and a scan, which say what is
 * wrong with it as OPA does. The span is trimmed of whitespace.
 */
export function soleMemberSpan(bytes: Uint8Array, key: Uint8Array): { start: number; end: number } | undefined {
  if (bytes.length > MAX_JSON_DEPTH) return undefined;
  let i = skipSpace(bytes, 0);
  if (bytes[i] !== OPEN_BRACE) return undefined;
  i = skipSpace(bytes, i + 1);
  if (bytes[i] !== QUOTE || !bytesAt(bytes, i + 1, key) || bytes[i + key.length + 1] !== QUOTE) return undefined;
  i = skipSpace(bytes, i + key.length + 2);
  if (bytes[i] !== COLON) return undefined;
  const start = skipSpace(bytes, i + 1);
  const end = valueEnd(bytes, start, true);
  if (end < 0) return undefined;
  i = skipSpace(bytes, end);
  if (bytes[i] !== CLOSE_BRACE || skipSpace(bytes, i + 1) !== bytes.length) return undefined;
  return { start, end };
}

/**
 * Where the first JSON value of `bytes` ends (after leading whitespace), or -1 when the text does
 * not start with a complete, valid value nested at most {@link MAX_JSON_DEPTH} levels. What follows
 * the value is not looked at: OPA reads a request body with Go's `json.Decoder`, which decodes the
 * first value and leaves the rest unread.
 */
export function firstValueEnd(bytes: Uint8Array): number {
  return valueEnd(bytes, skipSpace(bytes, 0), false);
}

const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
export const TRUE = Buffer.from('true');
export const FALSE = Buffer.from('false');
const LITERALS = [TRUE, FALSE, Buffer.from('null')];

function skipSpace(bytes: Uint8Array, i: number): number {
  while (i < bytes.length && isSpace(bytes[i])) i++;
  return i;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= 0x39;
}

/**
 * {@link valueEnd}'s stack of the closing brackets of the containers it is in: one for the process,
 * as the reader runs to its end without yielding, so a request allocates none.
 */
const CLOSERS = new Uint8Array(MAX_JSON_DEPTH);

/**
 * Where the JSON value at `i` ends, or -1 when there is none. `plain` takes only what
 * {@link soleMemberSpan} is sure of (printable ASCII strings without escapes); otherwise any valid
 * string is taken. Containers are followed with a stack of their closing brackets ({@link CLOSERS})
 * rather than by recursion, at most {@link MAX_JSON_DEPTH} deep.
 */
function valueEnd(bytes: Uint8Array, i: number, plain: boolean): number {
  let depth = 0;
  for (;;) {
    const c = bytes[i];
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth === MAX_JSON_DEPTH) return -1; // this would be a level too many
      const close = c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
      i = skipSpace(bytes, i + 1);
      if (bytes[i] !== close) {
        CLOSERS[depth++] = close;
        i = close === CLOSE_BRACE ? memberStart(bytes, i, plain) : i;
        if (i < 0) return -1;
        continue;
      }
      i++;
    } else if (c === QUOTE) {
      i = stringEnd(bytes, i, plain);
    } else if (c === MINUS || isDigit(c)) {
      i = numberEnd(bytes, i);
    } else {
      i = literalEnd(bytes, i);
    }
    if (i < 0) return -1;
    // A value is complete: close the containers it completes, up to one that goes on.
    for (;;) {
      if (depth === 0) return i;
      i = skipSpace(bytes, i);
      const close = CLOSERS[depth - 1];
      if (bytes[i] === COMMA) {
        i = skipSpace(bytes, i + 1);
        i = close === CLOSE_BRACE ? memberStart(bytes, i, plain) : i;
        if (i < 0) return -1;
        break;
      }
      if (bytes[i] !== close) return -1;
      depth--;
      i++;
    }
  }
}

/** After an object member's key and colon (the value's start), or -1. */
function memberStart(bytes: Uint8Array, i: number, plain: boolean): number {
  if (bytes[i] !== QUOTE) return -1;
  i = stringEnd(bytes, i, plain);
  if (i < 0) return -1;
  i = skipSpace(bytes, i);
  return bytes[i] === COLON ? skipSpace(bytes, i + 1) : -1;
}

/**
 * After the string at `i` (its opening quote), or -1: no control character, and escapes as JSON
 * has them. `plain` refuses any escape and any byte beyond printable ASCII; otherwise bytes from
 * 0x80 are taken as they are (the text's decoder sees to UTF-8).
 */
function stringEnd(bytes: Uint8Array, i: number, plain: boolean): number {
  for (let j = i + 1; j < bytes.length; j++) {
    const c = bytes[j];
    if (c === QUOTE) return j + 1;
    if (c < 0x20 || (plain && (c === BACKSLASH || c > 0x7e))) return -1;
    if (c === BACKSLASH) {
      const e = bytes[++j];
      if (e === 0x75) {
        // \u and four hexadecimal digits
        for (let k = 1; k <= 4; k++) {
          if (!isHexDigit(bytes[j + k])) return -1;
        }
        j += 4;
      } else if (!ESCAPED.includes(e)) {
        return -1;
      }
    }
  }
  return -1;
}

/** The characters JSON escapes with a backslash and one letter: `"`, `\`, `/`, `b`, `f`, `n`, `r`, `t`. */
const ESCAPED: readonly number[] = [...Buffer.from('"\\/bfnrt')];

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** After the number at `i`, by JSON's grammar (no leading zero, digits after `.` and `e`), or -1. */
function numberEnd(bytes: Uint8Array, i: number): number {
  if (bytes[i] === MINUS) i++;
  if (bytes[i] === ZERO) i++;
  else if (isDigit(bytes[i])) while (isDigit(bytes[i])) i++;
  else return -1;
  if (bytes[i] === DOT) {
    if (!isDigit(bytes[++i])) return -1;
    while (isDigit(bytes[i])) i++;
  }
  if (bytes[i] === 0x65 || bytes[i] === 0x45) {
    i++;
    if (bytes[i] === PLUS || bytes[i] === MINUS) i++;
    if (!isDigit(bytes[i])) return -1;
    while (isDigit(bytes[i])) i++;
  }
  return i;
}

/** After `true`, `false` or `null` at `i`, or -1. */
function literalEnd(bytes: Uint8Array, i: number): number {
  for (const word of LITERALS) {
    if (bytes[i] === word[0]) return bytesAt(bytes, i, word) ? i + word.length : -1;
  }
  return -1;
}

/** Whether `bytes` holds `word` at `at`: a loop, as words here are short (Buffer's `compare` is a call into Node.js). */
export function bytesAt(bytes: Uint8Array, at: number, word: Uint8Array): boolean {
  if (at + word.length > bytes.length) return false;
  for (let k = 0; k < word.length; k++) {
    if (bytes[at + k] !== word[k]) return false;
  }
  return true;
}

/** The child of the value in `bytes[start, end)` named `key` (see {@link lastChild}), at any depth below. */
export function childOf(bytes: Uint8Array, key: string, start = 0, end = bytes.length): JsonChild | undefined {
  return lastChild(scanJson(bytes, start, end, Infinity).children, key);
}

/**
 * Replaces each escaped lone surrogate (`\uD800` not followed by a low surrogate escape, or a
 * `\uDC00` not after a high one) by `\uFFFD`, as Go's JSON decoder reads them and OPA answers;
 * the Wasm engine refuses them ("illegal string escape character").
 */
export function replaceLoneSurrogateEscapes(text: string): string {
  let out = '';
  let copied = 0;
  const hexAt = (i: number): number => (text[i] === '\\' && text[i + 1] === 'u' ? parseInt(text.slice(i + 2, i + 6), 16) : NaN);
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '\\') continue;
    if (text[i + 1] !== 'u') {
      i++;
      continue;
    }
    const unit = hexAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = hexAt(i + 6);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i += 11;
        continue;
      }
    } else if (!(unit >= 0xdc00 && unit <= 0xdfff)) {
      i += 5;
      continue;
    }
    out += text.slice(copied, i) + '\\ufffd';
    copied = i + 6;
    i += 5;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * The request bytes the engine gets: the client's, unless they are not UTF-8 (then decoded with
 * U+FFFD for each bad sequence, as Go does) or hold escaped lone surrogates.
 */
export function engineBytes(bytes: Buffer, scan: Pick<JsonScan, 'surrogateEscapes'>): Buffer {
  if (!scan.surrogateEscapes && isUtf8(bytes)) return bytes;
  const text = bytes.toString('utf8');
  return Buffer.from(scan.surrogateEscapes ? replaceLoneSurrogateEscapes(text) : text, 'utf8');
}

/** A value already written as JSON, put as it is into the response that holds it. */
export class RawJson {
  public constructor(public readonly text: string) {}

  /** Only reached through {@link stringifyJson}, which swaps the marker for the text. */
  public toJSON(): string {
    if (!collecting) return JSON.parse(this.text) as string;
    collecting.push(this.text);
    return `${MARKER}${collecting.length - 1}`;
  }
}

/** A marker no client can guess, so a string a client sent is never taken for one. */
const MARKER = `\u0000raw-${Math.random().toString(36).slice(2)}-`;
/** The marker as JSON.stringify writes it (NUL escaped), without its closing index and quote. */
const WRITTEN_MARKER = JSON.stringify(MARKER).slice(0, -1);
let collecting: string[] | undefined;

/** JSON.stringify that writes each {@link RawJson} as its text; indented by two spaces with `pretty`, as OPA's `?pretty`. */
export function stringifyJson(value: unknown, pretty = false): string {
  if (value instanceof RawJson) return pretty ? indentJson(value.text) : value.text;
  const flat = flatObjectJson(value);
  if (flat !== undefined) return pretty ? indentJson(flat) : flat;
  const texts: string[] = [];
  collecting = texts;
  let text: string;
  try {
    text = JSON.stringify(value);
  } finally {
    collecting = undefined;
  }
  if (texts.length > 0) text = substitute(text, texts);
  return pretty ? indentJson(text) : text;
}

/**
 * A plain object whose members are all {@link RawJson} or strings, numbers, booleans and null (a
 * decision's answer: `{"result": ...}`, with `decision_id`), written member by member, without the
 * markers' round trip; undefined for anything else.
 */
function flatObjectJson(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return undefined;
  let out = '';
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    const member = (value as Record<string, unknown>)[key];
    let text: string;
    if (member instanceof RawJson) text = member.text;
    else if (member === undefined) continue;
    else if (member === null || typeof member === 'string' || typeof member === 'boolean' || typeof member === 'number') text = JSON.stringify(member);
    else return undefined;
    out += (out === '' ? '{' : ',') + JSON.stringify(key) + ':' + text;
  }
  return out === '' ? '{}' : out + '}';
}

/** Puts each text in place of its marker; markers appear in the order toJSON handed them out. */
function substitute(text: string, texts: readonly string[]): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < texts.length; i++) {
    const marker = `${WRITTEN_MARKER}${i}"`;
    const at = text.indexOf(marker, from);
    out += text.slice(from, at) + texts[i];
    from = at + marker.length;
  }
  return out + text.slice(from);
}

/**
 * JSON.parse, except that a number JavaScript would write back differently (`9007199254740993`,
 * a 30-digit integer, `1e400`, `1.0`, `-0`, a long decimal) is kept as a {@link RawJson} of its
 * text, so that {@link stringifyJson} writes it as written: what OPA's decision logs and bundle data
 * hold (Go's `json.Number`). Text that is not JSON throws JSON.parse's SyntaxError. Without such
 * numbers it is JSON.parse itself.
 */
export function parseExactJson(text: string): unknown {
  const spans = inexactNumbers(text);
  if (spans.length === 0) return JSON.parse(text);
  // Each such number becomes a string only this process can write (the marker), turned back
  // into a RawJson of the number's text as JSON.parse revives it.
  let marked = '';
  let from = 0;
  for (const [start, end] of spans) {
    marked += text.slice(from, start) + JSON.stringify(MARKER + text.slice(start, end));
    from = end;
  }
  marked += text.slice(from);
  return JSON.parse(marked, (_key, value: unknown) => (typeof value === 'string' && value.startsWith(MARKER) ? new RawJson(value.slice(MARKER.length)) : value));
}

/** `[start, end)` of every number in the JSON `text` that JSON.stringify would not write back as written. */
function inexactNumbers(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // To the closing quote, found natively (bundle data runs to megabytes): one preceded by an
      // odd run of backslashes is escaped.
      i = text.indexOf('"', i + 1);
      while (i > 0 && escapedAt(text, i)) i = text.indexOf('"', i + 1);
      // Unterminated: not JSON, which JSON.parse then says.
      if (i < 0) break;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      let plain = c !== 0x2d && (c !== 0x30 || !isNumberChar(text.charCodeAt(i + 1)));
      while (i + 1 < text.length && isNumberChar(text.charCodeAt(i + 1))) {
        i++;
        const d = text.charCodeAt(i);
        if (d < 0x30 || d > 0x39) plain = false;
      }
      // Digits alone, 15 at most, without a leading zero: a double holds them and writes them back.
      if (plain && i + 1 - start <= 15) continue;
      const literal = text.slice(start, i + 1);
      if (JSON.stringify(Number(literal)) !== literal) spans.push([start, i + 1]);
    }
  }
  return spans;
}

/** The character at `i` (a quote) follows an odd number of backslashes. */
function escapedAt(text: string, i: number): boolean {
  let n = 0;
  while (text.charCodeAt(i - 1 - n) === BACKSLASH) n++;
  return n % 2 === 1;
}

/** Digits, sign, decimal point and exponent: what follows the first character of a JSON number. */
function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

/**
 * Indents compact JSON text by two spaces per level, as Go's `json.MarshalIndent` and
 * `JSON.stringify(v, null, 2)` do (`{}` and `[]` stay empty), without parsing it.
 */
export function indentJson(text: string): string {
  let out = '';
  let level = 0;
  const newline = (): string => '\n' + '  '.repeat(level);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      if (text[i + 1] === close) {
        out += c + close;
        i++;
      } else {
        level++;
        out += c + newline();
      }
    } else if (c === '}' || c === ']') {
      level--;
      out += newline() + c;
    } else if (c === ',') {
      out += ',' + newline();
    } else if (c === ':') {
      out += ': ';
    } else {
      out += c;
    }
  }
  return out;
}
