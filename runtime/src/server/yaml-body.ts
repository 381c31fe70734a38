/**
 * Request bodies in YAML. OPA reads a body whose Content-Type mentions `yaml` with
 * `util.Unmarshal`: JSON as it is (YAML holds JSON), anything else read by go-yaml v3 and turned
 * into JSON (../yaml-json.ts). This does the same, so that the rest of the request is read as a
 * JSON body. A YAML body has the limits of any body (`server.decoding.max_length`).
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors';
import { YamlError, yamlToJson } from '../yaml-json';

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
  try {
    return Buffer.from(yamlToJson(text), 'utf8');
  } catch (err) {
    if (err instanceof YamlError) throw new ApiError(400, 'invalid_parameter', `${prefix}: ${err.message}`, { cause: err });
    throw err;
  }
}
