import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { ConfigError, errorMessage } from '../errors';
import { yamlToJson } from '../yaml-json';

/**
 * Reads OPA's configuration file: JSON (what the construct writes) or YAML (`.yaml`/`.yml`, what
 * users of OPA already have, read with go-yaml's rules as OPA's `util.Unmarshal` reads it), and
 * replaces `${NAME}` references with environment values so secrets stay out of the layer
 * (https://www.openpolicyagent.org/docs/configuration#environment-variable-substitution).
 *
 * OPA substitutes in the raw text; this does it in parsed string values instead, so a value with a
 * quote or a newline cannot change the document's structure. As in OPA, an unset variable becomes
 * the empty string.
 */
export function readConfigFile(file: string, lookup: (name: string) => string | undefined): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the configuration file ${file}: ${errorMessage(err)}`, { cause: err });
  }
  const ext = extname(file).toLowerCase();
  const yaml = ext === '.yaml' || ext === '.yml';
  let parsed: unknown;
  try {
    parsed = JSON.parse(yaml ? yamlToJson(text) : text);
  } catch (err) {
    throw new ConfigError(`the configuration file ${file} is not valid ${yaml ? 'YAML' : 'JSON'}: ${errorMessage(err)}`, { cause: err });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`the configuration file ${file} must hold an object, got ${Array.isArray(parsed) ? 'an array' : typeof parsed}`);
  }
  return substitute(parsed, lookup) as Record<string, unknown>;
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function substitute(value: unknown, lookup: (name: string) => string | undefined): unknown {
  if (typeof value === 'string') return value.replace(REFERENCE, (_, name: string) => lookup(name) ?? '');
  if (Array.isArray(value)) return value.map((v) => substitute(v, lookup));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, lookup)]));
  }
  return value;
}
