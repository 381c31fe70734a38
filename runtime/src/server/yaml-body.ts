/**
 * Request bodies in YAML. OPA reads a body whose Content-Type mentions `yaml` with
 * `util.Unmarshal`: JSON as it is (YAML holds JSON), anything else read by go-yaml v3 and turned
 * into JSON (../yaml-json.ts). This does the same, so that the rest of the request is read as a
 * JSON body.
 *
 * The `yaml` package bundled here (version 1) checks a mapping's keys for repeats pairwise: a
 * 64 KiB body of one flat mapping takes it over a second. YAML bodies are read up to
 * {@link YAML_MAX_BYTES}, about 0.2 s at worst; a larger input is sent as JSON.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError, BODY_TOO_LARGE } from './errors';
import { YamlError, yamlToJson } from '../yaml-json';

/** The longest YAML body read (JSON bodies have only `server.decoding.max_length`). */
export const YAML_MAX_BYTES = 16 * 1024;

/**
 * `body` as JSON: converted from YAML when the request's Content-Type mentions `yaml` and the body
 * is not JSON already; unchanged otherwise. `prefix` begins the message of a 400 for bad YAML.
 * Small on purpose: every decision calls it, and V8 inlines it where the conversion would not be.
 */
export function jsonBody(req: IncomingMessage, body: Buffer, prefix: string): Buffer {
  const type = req.headers['content-type'];
  return type !== undefined && type.includes('yaml') ? yamlAsJson(body, prefix) : body;
}

function yamlAsJson(body: Buffer, prefix: string): Buffer {
  if (body.length === 0) return body;
  const text = body.toString('utf8');
  try {
    JSON.parse(text);
    return body;
  } catch {
    // not JSON: YAML
  }
  if (body.length > YAML_MAX_BYTES) {
    throw new ApiError(400, 'invalid_parameter', `${BODY_TOO_LARGE}: a YAML body is read up to ${YAML_MAX_BYTES} bytes; send a longer input as JSON`);
  }
  try {
    return Buffer.from(yamlToJson(text), 'utf8');
  } catch (err) {
    if (err instanceof YamlError) throw new ApiError(400, 'invalid_parameter', `${prefix}: ${err.message}`, { cause: err });
    throw err;
  }
}
