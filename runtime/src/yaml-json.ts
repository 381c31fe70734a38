/**
 * YAML read as OPA reads it (`util.Unmarshal`: go-yaml v3, then JSON), written as JSON text: the
 * first document, plain scalars resolved as go-yaml v3 resolves them (YAML 1.2's core schema, plus
 * `0777` octals, `_` in numbers, integers to 64 bits exact, floats as Go writes them, timestamps
 * kept as the text written), keys made strings as OPA makes them, `<<` merges, the last of a
 * repeated key, and aliases bounded as go-yaml bounds them. Request bodies, bundle data files and
 * their signatures' digests all read YAML through this, so numbers stay as written everywhere.
 *
 * The `yaml` package, version 2 (the `yaml2` alias; loaded on first use), does the parsing,
 * through its failsafe schema (every scalar a string) and without its check for repeated keys,
 * which compares each key with every other; the resolution is done here.
 */
import type { Alias, Document, Node, Pair, Scalar, YAMLMap } from 'yaml2';
import { isAlias, isMap, isSeq, parseAllDocuments, visit } from 'yaml2';

/** YAML that OPA would refuse too: the message is go-yaml's or OPA's where they are known. */
export class YamlError extends Error {}

/** What the parser and the conversion say of YAML nested deeper than their stack allows. */
const NESTED_TOO_DEEPLY = 'yaml: nested too deeply for the YAML reader; write deeply nested documents as JSON';

/** The JSON text of the first YAML document of `text`; a {@link YamlError} for YAML OPA refuses too, or that is nested too deeply. */
export function yamlToJson(text: string): string {
  try {
    const [doc] = parseAllDocuments(text, { schema: 'failsafe', uniqueKeys: false, prettyErrors: false });
    if (!doc) return 'null';
    const [error] = doc.errors;
    if (error) throw new YamlError(error.code === 'RESOURCE_EXHAUSTION' ? NESTED_TOO_DEEPLY : `yaml: ${error.message}`);
    return new Converter(doc).value(doc.contents);
  } catch (err) {
    if (err instanceof RangeError) throw new YamlError(NESTED_TOO_DEEPLY, { cause: err });
    throw err;
  }
}

const STR_TAG = 'tag:yaml.org,2002:str';
const BINARY_TAG = 'tag:yaml.org,2002:binary';
const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const TRUES = new Set(['true', 'True', 'TRUE']);
const FALSES = new Set(['false', 'False', 'FALSE']);
const INFINITIES = new Set(['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF', '-.inf', '-.Inf', '-.INF']);
const NANS = new Set(['.nan', '.NaN', '.NAN']);
/** go-yaml's `yamlStyleFloat`. */
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
/** What Go's strconv.ParseInt and ParseUint take with base 0. */
const GO_INTEGER = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

type YamlNode = Node | null | undefined;

/** One document's conversion, counting nodes as go-yaml does to refuse excessive aliasing. */
class Converter {
  private decoded = 0;
  private aliased = 0;
  private aliasDepth = 0;
  private readonly expanding = new Set<Node>();
  /** Each alias's node: the last node with its anchor before it in the document, as YAML defines it. */
  private readonly targets = new Map<Alias, Node>();

  public constructor(doc: Document) {
    const anchors = new Map<string, Node>();
    visit(doc, (_key, node) => {
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        if (target) this.targets.set(node, target);
      } else if (node && typeof node === 'object' && 'anchor' in node && typeof node.anchor === 'string') {
        anchors.set(node.anchor, node as Node);
      }
    });
  }

  public value(node: YamlNode): string {
    this.count();
    if (!node) return 'null';
    if (isMap(node)) return this.mapping(node);
    if (isSeq(node)) return `[${node.items.map((item) => this.value(item as YamlNode)).join(',')}]`;
    if (isAlias(node)) return this.alias(node, (target) => this.value(target));
    return scalarJson(node as Scalar);
  }

  private mapping(node: YAMLMap): string {
    return `{${[...this.members(node)].map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`;
  }

  /** Members' JSON by key, explicit ones over merged ones, the last of a repeated key winning. */
  private members(node: YAMLMap): Map<string, string> {
    const members = new Map<string, string>();
    const merged = new Map<string, string>();
    for (const pair of node.items as Array<Pair<YamlNode, YamlNode>>) {
      const key = pair.key as Scalar | null;
      if (key && !isAlias(key) && key.type === 'PLAIN' && key.value === '<<' && key.tag === undefined) {
        this.merge(pair.value, merged);
        continue;
      }
      members.set(this.key(pair.key), this.value(pair.value));
    }
    for (const [key, value] of merged) if (!members.has(key)) members.set(key, value);
    return members;
  }

  /** `<<: map`, `<<: *alias` or `<<: [maps]`: members not already merged (earlier sources win). */
  private merge(source: YamlNode, into: Map<string, string>): void {
    if (isAlias(source)) return this.alias(source, (target) => this.merge(target, into));
    if (isSeq(source)) {
      for (const item of source.items) this.merge(item as YamlNode, into);
      return;
    }
    if (!isMap(source)) throw new YamlError('yaml: map merge requires map or sequence of maps as the value');
    for (const [key, value] of this.members(source)) if (!into.has(key)) into.set(key, value);
  }

  /** A key as a string: a scalar's resolved value written out; null and collections are refused, as OPA refuses them. */
  private key(node: YamlNode): string {
    if (isAlias(node)) return this.alias(node, (target) => this.key(target));
    if (!node || isMap(node) || isSeq(node)) throw new YamlError(`yaml: invalid map key: ${node ? 'a collection' : 'null'}`);
    const json = scalarJson(node as Scalar);
    if (json === 'null') throw new YamlError('yaml: invalid map key: null');
    return json.startsWith('"') ? (JSON.parse(json) as string) : json;
  }

  private alias<T>(node: Alias, use: (target: Node) => T): T {
    const target = this.targets.get(node);
    if (!target) throw new YamlError('yaml: unknown anchor referenced');
    if (this.expanding.has(target)) throw new YamlError('yaml: anchor value contains itself');
    this.expanding.add(target);
    this.aliasDepth++;
    try {
      return use(target);
    } finally {
      this.aliasDepth--;
      this.expanding.delete(target);
    }
  }

  /** go-yaml's guard against alias bombs: nodes decoded through aliases may be at most a share of all. */
  private count(): void {
    this.decoded++;
    if (this.aliasDepth > 0) this.aliased++;
    if (this.aliased > 100 && this.decoded > 1000 && this.aliased / this.decoded > allowedAliasRatio(this.decoded)) {
      throw new YamlError('yaml: document contains excessive aliasing');
    }
  }
}

/** go-yaml's `allowedAliasRatio`: 99% up to 400,000 nodes, falling to 10% at 4,000,000. */
function allowedAliasRatio(decoded: number): number {
  if (decoded <= 400_000) return 0.99;
  if (decoded >= 4_000_000) return 0.1;
  return 0.99 - 0.89 * ((decoded - 400_000) / 3_600_000);
}

/** A scalar's JSON: quoted and block scalars and `!!str` are strings, `!!binary` is decoded, plain ones are resolved. */
function scalarJson(node: Scalar): string {
  // The parser decodes `!!binary` itself (a Uint8Array) whatever the schema.
  if (node.value instanceof Uint8Array) return JSON.stringify(Buffer.from(node.value).toString('utf8'));
  const text = typeof node.value === 'string' ? node.value : String(node.value ?? '');
  if (node.tag === BINARY_TAG) return JSON.stringify(Buffer.from(text.replace(/\s+/g, ''), 'base64').toString('utf8'));
  if (node.type !== 'PLAIN' || node.tag === STR_TAG) return JSON.stringify(text);
  return plainJson(text);
}

/** go-yaml v3's `resolve` of a plain scalar, written as the JSON OPA makes of it. */
function plainJson(text: string): string {
  if (NULLS.has(text)) return 'null';
  if (TRUES.has(text)) return 'true';
  if (FALSES.has(text)) return 'false';
  if (INFINITIES.has(text)) throw new YamlError(`json: unsupported value: ${text.startsWith('-') ? '-' : '+'}Inf`);
  if (NANS.has(text)) throw new YamlError('json: unsupported value: NaN');
  if (/^[-+.0-9]/.test(text)) {
    const plain = text.replace(/_/g, '');
    const integer = goInteger(plain);
    // ParseInt to 64 bits, then ParseUint (which takes no sign).
    if (integer !== undefined && integer >= INT64_MIN && (integer <= INT64_MAX || (integer <= UINT64_MAX && /^[0-9]/.test(plain)))) {
      return integer.toString();
    }
    if (YAML_FLOAT.test(plain)) {
      const float = Number(plain);
      if (Number.isFinite(float)) return Object.is(float, -0) ? '-0' : JSON.stringify(float);
    }
  }
  return JSON.stringify(text);
}

/** Go's strconv.ParseInt with base 0, unbounded. */
function goInteger(text: string): bigint | undefined {
  const match = GO_INTEGER.exec(text);
  if (!match) return undefined;
  const digits = match[2];
  const value = /^0[oO]/.test(digits) ? BigInt(`0o${digits.slice(2)}`)
    : /^0[0-7]+$/.test(digits) ? BigInt(`0o${digits.slice(1)}`)
      : BigInt(digits);
  return match[1] === '-' ? -value : value;
}
