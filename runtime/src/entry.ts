/**
 * The extension's program: `opa-extension/index.js` of the layer, which the launcher runs. Lambda
 * starts the function's runtime only once every extension has registered, so this file does no
 * more than it must before `/register`: it listens on the REST API's port (the function's init may
 * ask for a decision at once; the connection is held, see `EarlyListener`), registers, and only once
 * the request is sent loads the rest of the extension (`main.js`, {@link runExtension}: while Lambda
 * answers), which reads the whole
 * configuration, loads the policies and runs the lifecycle while the function's runtime starts.
 * It loads `node:net` and little else, not even `node:http` (the Extensions API client is a bare socket):
 * Node compiles every line of a script it loads, and builtins such as `node:http`, `node:crypto`,
 * `node:https` and `node:zlib` cost milliseconds each to load.
 *
 * Anything this fast start cannot do cheaply (a YAML configuration file, a configuration the full
 * parser would refuse, a port taken, a failed `/register`) is left to `main.js`, which then does
 * it all in the usual order and reports the failure to Lambda as it always does.
 */
// First, for its effect: the builtins below then load from Node's code cache (see launch-flags.ts).
import './launch-flags';
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { ExtensionEnvironment } from './config/env';
import { parseExtensionConfig } from './config/extension-config';
import { ExtensionsApiClient } from './lambda/extensions-api-client';
import { logRegistered } from './lambda/lifecycle';
import { JsonLogger, LogLevel } from './logger';
import type { FastStart } from './main';
import { EarlyListener, LOOPBACK } from './server/early-listener';
import { LAYER_LAYOUT } from '../../src/layer-contract';

type Main = typeof import('./main');

/** The configured level; a bad one is `main.js`'s to report, as a configuration error. */
function logLevel(env: ExtensionEnvironment): LogLevel {
  try {
    return env.logLevel();
  } catch {
    return 'info';
  }
}

let main: Main | undefined;

/**
 * `main.js`, loaded once. Compiling and loading it takes milliseconds, so the fast start loads it
 * while Lambda answers `/register`; a load that failed then is tried again, and reported, here.
 */
function loadMain(): Main {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (main ??= require(join(__dirname, LAYER_LAYOUT.RUNTIME_MAIN_FILE)) as Main);
}

async function fastStart(): Promise<FastStart | undefined> {
  let listener: EarlyListener | undefined;
  try {
    const env = new ExtensionEnvironment();
    const file = env.configFile();
    if (extname(file).toLowerCase() !== '.json') return undefined;
    // Only the port is taken from here; `main.js` reads the file again, with `${NAME}` references.
    const { port } = parseExtensionConfig(JSON.parse(readFileSync(file, 'utf8')));
    listener = new EarlyListener();
    await listener.listen(port, LOOPBACK);
    const name = env.extensionName();
    const client = new ExtensionsApiClient(env.runtimeApi());
    const registered = await client.register(name, undefined, loadMain);
    logRegistered(new JsonLogger({ level: logLevel(env) }), name, registered);
    return { listener, registered, identifier: client.extensionId! };
  } catch {
    await listener?.close();
    return undefined;
  }
}

fastStart()
  .then((fast) => loadMain().runExtension(fast))
  .then(
    (code) => process.exit(code),
    (err) => {
      process.stdout.write(JSON.stringify({ level: 'error', msg: 'extension failed', error: String(err) }) + '\n');
      process.exit(1);
    },
  );
