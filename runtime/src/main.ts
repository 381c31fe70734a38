/**
 * Composition root of the extension: reads the configuration, builds the parts and runs the
 * Lambda lifecycle. No logic of its own beyond the order of startup:
 * config → server listening → /register → embedded bundles active → plugins started → /event/next.
 * Lambda starts the function's init as soon as every extension has registered, so everything
 * before /register adds to every cold start; loading the policies comes after it. The server
 * listens before /register because the function's init may already ask for a decision: such a
 * request waits until the policies of init are active (PolicyServerOptions.ready).
 *
 * This module is `main.js` of the layer, loaded by the program, `entry.ts`, which normally has
 * listened and registered already ({@link FastStart}): then this module's work, config included,
 * runs while the function's runtime starts, and a configuration error is reported to
 * `/init/error` all the same. Without a fast start, plugins are built (their sections parsed,
 * nothing started) before the server listens, so every configuration error is found before
 * anything listens.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readConfigFile } from './config/config-file';
import { ExtensionEnvironment } from './config/env';
import { parseExtensionConfig } from './config/extension-config';
import type { ReportingPluginFactoryOptions } from './contracts/plugin-factory';
import type { Bundle } from './engine/bundle';
import { readBundle, readTarBundle } from './engine/bundle-reader';
import { PolicyEngine } from './engine/policy-engine';
import { BundleError, errorMessage } from './errors';
import { ExtensionsApiClient } from './lambda/extensions-api-client';
import { RegisteredHooks, runLifecycle } from './lambda/lifecycle';
import type { RegisterResponse } from './lambda/types';
import { JsonLogger, Logger, LogLevel } from './logger';
import { nodeCrypto } from './node-crypto';
import { createBundlePlugin } from './plugins/bundle/create-bundle-plugin';
import { createDecisionLogsPlugin } from './plugins/decision-logs/create-decision-logs-plugin';
import { createStatusPlugin } from './plugins/status/create-status-plugin';
import { parseSchedulerConfig } from './scheduler/config';
import { Scheduler } from './scheduler/scheduler';
import type { EarlyListener } from './server/early-listener';
import { PolicyServer } from './server/server';
import { createServiceClients } from './services/service-client';
import { parseServices } from './services/service-config';
import { favourMemoryOnceInitDone } from './v8-flags';
import { LAYER_LAYOUT } from '../../src/layer-contract';

/** The package version, set when the runtime is bundled (esbuild --define); absent when run from source. */
declare const OPA_EXTENSION_VERSION: string | undefined;
/** The `version` label of decision logs and status reports (OPA puts its own version there). */
const EXTENSION_VERSION = typeof OPA_EXTENSION_VERSION === 'string' ? OPA_EXTENSION_VERSION : 'dev';

/** What the program (`entry.ts`) did before it loaded this module. */
export interface FastStart {
  /** Listening on the configured port, holding the requests that come in until the server takes over. */
  readonly listener: EarlyListener;
  /** Lambda's answer to `/register`. */
  readonly registered: RegisterResponse;
  /** The `Lambda-Extension-Identifier` it gave. */
  readonly identifier: string;
}

/** Runs the extension to its end and returns the process exit code. */
export async function runExtension(fast?: FastStart): Promise<number> {
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
  const client = new ExtensionsApiClient(env.runtimeApi(), { identifier: fast?.identifier });

  return runLifecycle({
    client,
    name: env.extensionName(),
    logger,
    registered: fast?.registered,
    hooks: {
      beforeRegister: async () => {
        if (levelError) throw levelError;
        return start(env, logger, fast?.listener);
      },
    },
  });
}

/**
 * Everything before /register (after it, with a fast start): config, an empty engine, services,
 * plugins (one factory each, registered with the scheduler), then the server, listening (or
 * taking over the fast start's listener). Returns the hooks of the rest of the lifecycle, which
 * drive the scheduler and close the server.
 */
async function start(env: ExtensionEnvironment, logger: Logger, listener: EarlyListener | undefined): Promise<RegisteredHooks> {
  const config = parseExtensionConfig(readConfigFile(env.configFile(), (name) => env.variable(name)));
  const schedulerConfig = parseSchedulerConfig(config.lambdaExtension);

  const engine = new PolicyEngine();

  const services = parseServices(config.opaConfig.services);
  const clients = createServiceClients(services, () => env.awsCredentials());

  // Built before the plugins, which are then registered with it, so that the status plugin can be
  // handed the states of them all (its own included) without a forward reference.
  const scheduler = new Scheduler({ config: schedulerConfig, logger });
  let instanceId: string | undefined;
  const factoryOptions: ReportingPluginFactoryOptions = {
    opaConfig: config.opaConfig,
    services,
    clients,
    engine,
    logger,
    // Every decision-log event and status report carries OPA's `id` (this execution environment) and
    // `version`; the id is drawn when a report first reads it, so node:crypto loads only then.
    labels: { ...config.labels, get id() { return (instanceId ??= nodeCrypto().randomUUID()); }, version: EXTENSION_VERSION },
  };
  const bundles = createBundlePlugin(factoryOptions);
  const decisionLogs = createDecisionLogsPlugin(factoryOptions);
  const status = createStatusPlugin({ ...factoryOptions, pluginStatuses: () => scheduler.pluginStatuses(), bundles, decisionLogs });
  scheduler.register(bundles, decisionLogs, status);

  // Settled by afterRegister; until then decisions wait (see PolicyServerOptions.ready).
  let initDone!: () => void;
  let initFailed!: (err: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => {
    initDone = resolve;
    initFailed = reject;
  });
  const server = new PolicyServer({
    engine,
    ready,
    port: config.port,
    logger,
    decisionListener: decisionLogs,
    pluginStatuses: () => scheduler.pluginStatuses(),
    bundlesActivated: () => bundles?.allActivated() ?? true,
    defaultDecision: config.defaultDecision,
    version: EXTENSION_VERSION,
    listener,
    ...config.server,
  });
  const address = await server.listen();
  // ms since the process started (the global `performance` would cost a module load to read it).
  logger.info('server listening', { address: `http://${address.host}:${address.port}`, readyMs: Math.round(process.uptime() * 1000) });

  return {
    // After /register, so that Lambda starts the function's runtime while the policies load.
    afterRegister: async () => {
      try {
        for (const bundle of await readEmbeddedBundles(env.embeddedBundlesDir())) {
          engine.activate(bundle);
          logger.info('bundle activated', { name: bundle.name, revision: bundle.manifest.revision, source: 'embedded' });
        }
        await scheduler.init();
        // A bundle with on_init_failure: fail_init that the init round could not activate fails init.
        bundles?.assertInitActivated();
      } catch (err) {
        initFailed(err);
        throw err;
      }
      initDone();
      favourMemoryOnceInitDone();
    },
    onInvoke: (event) => scheduler.onInvoke(event),
    onShutdown: async (event) => {
      await scheduler.onShutdown(event);
      await server.close();
    },
  };
}

/**
 * Every bundle embedded in the layer at synth, `<name>.tar` (inflated at synth) or `<name>.tar.gz`,
 * in name order, read as downloads are.
 */
async function readEmbeddedBundles(dir: string): Promise<Bundle[]> {
  if (!existsSync(dir)) return [];
  const { BUNDLE_SUFFIX, TAR_BUNDLE_SUFFIX } = LAYER_LAYOUT;
  const files = readdirSync(dir).filter((f) => f.endsWith(TAR_BUNDLE_SUFFIX) || f.endsWith(BUNDLE_SUFFIX));
  const named = files.map((file) => ({ file, name: file.slice(0, -(file.endsWith(TAR_BUNDLE_SUFFIX) ? TAR_BUNDLE_SUFFIX : BUNDLE_SUFFIX).length) }));
  named.sort((a, b) => (a.name !== b.name ? (a.name < b.name ? -1 : 1) : a.file < b.file ? -1 : 1));
  for (let i = 1; i < named.length; i++) {
    if (named[i].name === named[i - 1].name) throw new BundleError(named[i].name, `embedded twice, as ${named[i - 1].file} and ${named[i].file}`);
  }
  const bundles: Bundle[] = [];
  for (const { file, name } of named) {
    let archive: Buffer;
    try {
      archive = readFileSync(join(dir, file));
    } catch (err) {
      throw new BundleError(name, `cannot read ${join(dir, file)}: ${errorMessage(err)}`, { cause: err });
    }
    bundles.push(await (file.endsWith(TAR_BUNDLE_SUFFIX) ? readTarBundle(name, archive) : readBundle(name, archive)));
  }
  return bundles;
}
