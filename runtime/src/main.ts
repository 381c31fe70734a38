/**
 * Composition root of the extension: reads the configuration, builds the parts and runs the
 * Lambda lifecycle. No logic of its own beyond the order of startup, which DESIGN.md fixes:
 * config → embedded bundles active → server listening → /register → plugins started → /event/next.
 * The server must answer before /register because Lambda starts the function's init as soon as
 * every extension has registered, and that init may already ask for a decision.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readConfigFile } from './config/config-file';
import { ExtensionEnvironment } from './config/env';
import { parseExtensionConfig } from './config/extension-config';
import { readBundle } from './engine/bundle-reader';
import { PolicyEngine } from './engine/policy-engine';
import { BundleError } from './errors';
import { ExtensionsApiClient } from './lambda/extensions-api-client';
import { runLifecycle } from './lambda/lifecycle';
import { JsonLogger, LogLevel } from './logger';
import { parseSchedulerConfig } from './scheduler/config';
import { Scheduler } from './scheduler/scheduler';
import { PolicyServer } from './server/server';

async function main(): Promise<number> {
  const startedAt = Date.now();
  const env = new ExtensionEnvironment();
  // A bad OPA_LOG_LEVEL is a config error reported to Lambda like any other, so it is raised in
  // beforeRegister; until then the default level logs.
  let levelError: unknown;
  let level: LogLevel = 'info';
  try {
    level = env.logLevel();
  } catch (err) {
    levelError = err;
  }
  const logger = new JsonLogger({ level });
  const client = new ExtensionsApiClient(env.runtimeApi());
  let scheduler: Scheduler | undefined;
  let server: PolicyServer | undefined;

  const exitCode = await runLifecycle({
    client,
    name: env.extensionName(),
    logger,
    hooks: {
      beforeRegister: async () => {
        if (levelError) throw levelError;
        const config = parseExtensionConfig(readConfigFile(env.configFile(), (name) => env.variable(name)));
        const schedulerConfig = parseSchedulerConfig(config.lambdaExtension);
        const engine = new PolicyEngine();
        for (const bundle of readEmbeddedBundles(env.embeddedBundlesDir())) {
          engine.activate(bundle);
          logger.info('bundle activated', { name: bundle.name, revision: bundle.manifest.revision, source: 'embedded' });
        }
        server = new PolicyServer({ engine, port: config.port, logger });
        const address = await server.listen();
        // Plugins (bundle downloads, decision logs, status) join the scheduler as they are built.
        scheduler = new Scheduler({ plugins: [], config: schedulerConfig, logger });
        logger.info('server listening', { address: `http://${address.host}:${address.port}`, readyMs: Date.now() - startedAt });
      },
      afterRegister: async () => scheduler!.init(),
      onInvoke: async (event) => scheduler!.onInvoke(event),
      onShutdown: async (event) => {
        await scheduler!.onShutdown(event);
        await server?.close();
      },
    },
  });
  return exitCode;
}

/** Every `<name>.tar.gz` embedded in the layer at synth time, in name order. */
function readEmbeddedBundles(dir: string) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir)
    .filter((f) => f.endsWith('.tar.gz'))
    .sort()
    .map((f) => {
      const name = f.slice(0, -'.tar.gz'.length);
      let archive: Buffer;
      try {
        archive = fs.readFileSync(path.join(dir, f));
      } catch (err) {
        throw new BundleError(name, `cannot read ${path.join(dir, f)}: ${(err as Error).message}`, { cause: err });
      }
      return readBundle(name, archive);
    });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stdout.write(JSON.stringify({ level: 'error', msg: 'extension failed', error: String(err) }) + '\n');
    process.exit(1);
  },
);
