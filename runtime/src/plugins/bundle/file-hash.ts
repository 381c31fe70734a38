import { posix } from 'node:path';
import { nodeCrypto } from '../../node-crypto';
import { yamlToJson } from '../../yaml-json';

/**
 * Digests of bundle files exactly as OPA computes them for `.signatures.json`
 * (open-policy-agent/opa `v1/bundle/hash.go`, `verify.go`):
 * - `data.json`, `data.yaml` (first turned into JSON as OPA reads YAML, ../../yaml-json.ts) and
 *   `.manifest` are "structured": parsed, then hashed over a
 *   canonical text in which object keys are sorted (byte order of their UTF-8 form), no
 *   whitespace is kept, strings are encoded as Go's `encoding/json` encodes them (no HTML
 *   escaping) and numbers keep the text they were written with (Go decodes them as `json.Number`);
 * - every other file is hashed over its bytes.
 * So a signature is independent of a JSON file's whitespace and key order, as in OPA.
 */

/** OPA's names for the hash algorithms a signature's `files[_].algorithm` may name. */
const ALGORITHMS: Readonly<Record<string, string>> = {
  'MD5': 'md5',
  'SHA-1': 'sha1',
  'SHA-224': 'sha224',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
  'SHA-512-224': 'sha512-224',
  'SHA-512-256': 'sha512-256',
};

/** True for the files OPA hashes over their parsed form (`bundle.IsStructuredDoc`). */
export function isStructuredFile(file: string): boolean {
  const base = posix.basename(file);
  return base === 'data.json' || base === 'data.yaml' || base === '.signatures.json' || base === '.manifest';
}

/** Hex digest of one bundle file; throws for an unknown algorithm or a structured file that does not parse. */
export function hashBundleFile(file: string, data: Buffer, algorithm: string): string {
  const nodeAlgorithm = ALGORITHMS[algorithm];
  if (!nodeAlgorithm) throw new Error(`unsupported hashing algorithm: ${algorithm}`);
  const hash = nodeCrypto().createHash(nodeAlgorithm);
  if (!isStructuredFile(file)) {
    hash.update(data);
  } else if (posix.basename(file) === 'data.yaml') {
    hash.update(canonicalJson(yamlToJson(data.toString('utf8'))));
  } else {
    hash.update(canonicalJson(data.toString('utf8')));
  }
  return hash.digest('hex');
}

/** The canonical text of a JSON document (see the module comment). */
export function canonicalJson(text: string): string {
  const parser = new CanonicalJsonParser(text);
  const out = parser.value();
  parser.end();
  return out;
}

/** Go's `encoding/json` with `SetEscapeHTML(false)`: as JSON.stringify, and U+2028/U+2029 escaped. */
function goString(s: string): string {
  return JSON.stringify(s).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Go's `sort.Strings` compares bytes of UTF-8, which differs from UTF-16 order above U+FFFF. */
function sortKeys(keys: string[]): string[] {
  return keys.map((k) => [k, Buffer.from(k, 'utf8')] as const).sort((a, b) => Buffer.compare(a[1], b[1])).map(([k]) => k);
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * A strict JSON parser that writes the canonical text directly; it exists because `JSON.parse`
 * loses the text of numbers (`1.0` and `1` must hash differently, as they do in OPA).
 */
class CanonicalJsonParser {
  private pos = 0;

  public constructor(private readonly text: string) {}

  public value(): string {
    this.ws();
    const c = this.text[this.pos];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return goString(this.string());
    if (c === 't') return this.literal('true');
    if (c === 'f') return this.literal('false');
    if (c === 'n') return this.literal('null');
    return this.number();
  }

  public end(): void {
    this.ws();
    if (this.pos !== this.text.length) this.fail('unexpected data after the top-level value');
  }

  private object(): string {
    this.pos++;
    // Later duplicates win, as when Go decodes into a map.
    const members = new Map<string, string>();
    this.ws();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return '{}';
    }
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') this.fail('expected a string key');
      const key = this.string();
      this.ws();
      this.expect(':');
      members.set(key, this.value());
      this.ws();
      if (this.text[this.pos] === ',') {
        this.pos++;
        continue;
      }
      this.expect('}');
      break;
    }
    return '{' + sortKeys([...members.keys()]).map((k) => goString(k) + ':' + members.get(k)).join(',') + '}';
  }

  private array(): string {
    this.pos++;
    const items: string[] = [];
    this.ws();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return '[]';
    }
    for (;;) {
      items.push(this.value());
      this.ws();
      if (this.text[this.pos] === ',') {
        this.pos++;
        continue;
      }
      this.expect(']');
      break;
    }
    return '[' + items.join(',') + ']';
  }

  private string(): string {
    const start = this.pos;
    this.pos++;
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail('unterminated string');
      if (c === '\\') {
        this.pos += 2;
        continue;
      }
      if (c < ' ') this.fail('control character in string');
      this.pos++;
      if (c === '"') break;
    }
    return JSON.parse(this.text.slice(start, this.pos)) as string;
  }

  private number(): string {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) this.fail('invalid value');
    this.pos += match![0].length;
    return match![0];
  }

  private literal(word: string): string {
    if (this.text.slice(this.pos, this.pos + word.length) !== word) this.fail('invalid literal');
    this.pos += word.length;
    return word;
  }

  private expect(c: string): void {
    if (this.text[this.pos] !== c) this.fail(`expected '${c}'`);
    this.pos++;
  }

  private ws(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos])) this.pos++;
  }

  private fail(message: string): never {
    throw new Error(`invalid JSON at offset ${this.pos}: ${message}`);
  }
}
