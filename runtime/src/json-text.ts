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
    if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (depth > maxDepth) return { depth, tooDeep: String.fromCharCode(c), children, surrogateEscapes };
      }
      if (depth === 1) {
        topIsObject = c === 0x7b;
        expectKey = topIsObject;
        valueStart = i + 1;
      }
    } else if (c === 0x7d || c === 0x5d) {
      if (depth === 1) closeChild(bytes, children, topIsObject ? key : undefined, valueStart, i);
      depth--;
    } else if (depth === 1) {
      if (c === 0x3a) {
        valueStart = i + 1;
      } else if (c === 0x2c) {
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
 * Where the value of the member `quotedKey` (`"input"`, quotes included) is in `bytes`, an object
 * that JSON.parse read as `parsed` from `text` (`bytes` decoded), found without a scan when that is
 * safe: every byte is one character of `text` (so an index into the text is one into the bytes),
 * that member is the only one, and the text has no backslash (so the key is written plainly, and
 * written once: a repeated key is left to a scan, as is a text that holds `quotedKey` twice) and is
 * at most {@link MAX_JSON_DEPTH} long (so it cannot nest too deeply). The span runs from after the
 * colon to the closing brace, untrimmed; undefined when a scan must find it. The text is searched
 * rather than the bytes: V8's string search runs without a call into Node.js for each search.
 */
export function soleMemberSpan(text: string, bytes: Buffer, parsed: object, quotedKey: string): { start: number; end: number } | undefined {
  if (text.length !== bytes.length || text.length > MAX_JSON_DEPTH || text.includes('\\')) return undefined;
  let members = 0;
  for (const key in parsed) {
    if (Object.prototype.hasOwnProperty.call(parsed, key) && ++members > 1) return undefined;
  }
  const at = text.indexOf(quotedKey);
  if (at < 0 || text.indexOf(quotedKey, at + quotedKey.length) >= 0) return undefined;
  return { start: text.indexOf(':', at + quotedKey.length) + 1, end: text.lastIndexOf('}') };
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
 * text, so that {@link stringifyJson} writes it as written: what OPA's decision logs hold (Go's
 * `json.Number`). `text` must be valid JSON. Without such numbers it is JSON.parse itself.
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
      for (i++; text.charCodeAt(i) !== QUOTE; i++) if (text.charCodeAt(i) === BACKSLASH) i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      while (i + 1 < text.length && isNumberChar(text.charCodeAt(i + 1))) i++;
      const literal = text.slice(start, i + 1);
      if (JSON.stringify(Number(literal)) !== literal) spans.push([start, i + 1]);
    }
  }
  return spans;
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
