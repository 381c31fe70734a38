/**
 * Servers for counting the instructions of a decision (bench/instructions.ts), bundled from
 * runtime/src by esbuild and minified, as the layer's main.js is, with a Wasm bundle:
 *
 *   node decision-server.js <bundle.tar.gz> extension <path>   the runtime's PolicyServer and PolicyEngine
 *   node decision-server.js <bundle.tar.gz> evaluating <path>  the bare server of the latency figures,
 *     which also evaluates <path> with the engine on the input of each request's body
 *
 * Each prints its port and serves until it is killed.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import { readBundle } from '../../runtime/src/engine/bundle-reader';
import { PolicyEngine } from '../../runtime/src/engine/policy-engine';
import { SILENT_LOGGER } from '../../runtime/src/logger';
import { PolicyServer } from '../../runtime/src/server/server';

/** How the bench's request body starts: the input is the rest, less the closing brace. */
const INPUT_MEMBER = Buffer.from('{"input":');

async function main(): Promise<void> {
  const [file, mode, path] = process.argv.slice(2);
  const engine = new PolicyEngine();
  engine.activate(await readBundle('bench', fs.readFileSync(file)));
  let port: number;
  if (mode === 'extension') {
    port = (await new PolicyServer({ engine, port: 0, logger: SILENT_LOGGER }).listen()).port;
  } else {
    const segments = path.split('/');
    const answer = Buffer.from('{"result":true}');
    const server = http.createServer((req, res) => {
      let body: Buffer = Buffer.alloc(0);
      req.on('data', (chunk: Buffer) => { body = body.length === 0 ? chunk : Buffer.concat([body, chunk]); });
      req.on('end', () => {
        if (!body.subarray(0, INPUT_MEMBER.length).equals(INPUT_MEMBER)) throw new Error('the body is not the bench\'s {"input": ...}');
        engine.evaluateJson(segments, body.subarray(INPUT_MEMBER.length, body.length - 1));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length });
        res.end(answer);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  }
  process.stdout.write(`${port}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
