/**
 * Composition root of the extension: reads the configuration, builds the parts and runs the
 * Lambda lifecycle. No logic of its own beyond the order of startup, which DESIGN.md fixes:
 * config → embedded bundles active → server listening → /register → plugins started → /event/next.
 * The server must answer before /register because Lambda starts the function's init as soon as
 * every extension has registered, and that init may already ask for a decision.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readConfigFile } from './config/config-file';
import { ExtensionEnvironment } from './config/env';
import { parseExtensionConfig } from './config/extension-config';
import type { Plugin, PluginStatus } from './contracts/plugin';
import type { Bundle } from './engine/bundle';
import { readBundle } from './engine/bundle-reader';
import { PolicyEngine } from './engine/policy-engine';
import { BundleError } from './errors';
import { ExtensionsApiClient } from './lambda/extensions-api-client';
import { runLifecycle } from './lambda/lifecycle';
import { JsonLogger, Logger, LogLevel } from './logger';
import type { BundlePlugin } from './plugins/bundle/bundle-plugin';
import { createBundlePlugin } from './plugins/bundle/create-bundle-plugin';
import { parseDecisionLogsConfig } from './plugins/decision-logs/config';
import { DecisionLogsPlugin } from './plugins/decision-logs/decision-logs-plugin';
import { parseStatusConfig } from './plugins/status/config';
import { StatusPlugin } from './plugins/status/status-plugin';
import { parseSchedulerConfig } from './scheduler/config';
import { Scheduler } from './scheduler/scheduler';
import { PolicyServer } from './server/server';
import { createServiceClients, ServiceClient } from './services/service-client';
import { parseServices, ServiceConfig } from './services/service-config';
import { LAYER_LAYOUT } from '../../src/layer-contract';

/** The package version, set when the runtime is bundled (esbuild --define); absent when run from source. */
declare const OPA_EXTENSION_VERSION: string | undefined;
/** The `version` label of decision logs and status reports (OPA puts its own version there). */
const EXTENSION_VERSION = typeof OPA_EXTENSION_VERSION === 'string' ? OPA_EXTENSION_VERSION : 'dev';

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
  let bundles: BundlePlugin | undefined;

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
        for (const bundle of await readEmbeddedBundles(env.embeddedBundlesDir())) {
          engine.activate(bundle);
          logger.info('bundle activated', { name: bundle.name, revision: bundle.manifest.revision, source: 'embedded' });
        }
        const services = parseServices(config.raw.services);
        const clients = createServiceClients(services, () => env.awsCredentials());
        const logging = buildLoggingPlugins({
          raw: config.raw,
          labels: config.labels,
          services,
          clients,
          engine,
          logger,
          pluginStatuses: () => scheduler!.pluginStatuses(),
          bundleStatuses: () => bundles?.statuses() ?? {},
        });
        server = new PolicyServer({
          engine,
          port: config.port,
          logger,
          decisionListener: logging.decisionLogs,
          pluginStatuses: () => scheduler?.pluginStatuses() ?? {},
          bundlesActivated: () => bundles?.allActivated() ?? true,
          defaultDecision: config.defaultDecision,
          version: EXTENSION_VERSION,
          ...config.server,
        });
        const address = await server.listen();
        bundles = createBundlePlugin({ raw: config.raw, services, clients, engine, logger });
        scheduler = new Scheduler({ plugins: [...(bundles ? [bundles] : []), ...logging.plugins], config: schedulerConfig, logger });
        logger.info('server listening', { address: `http://${address.host}:${address.port}`, readyMs: Date.now() - startedAt });
      },
      afterRegister: async () => {
        await scheduler!.init();
        // A bundle with on_init_failure: fail_init that the init round could not activate fails init.
        bundles?.assertInitActivated();
      },
      onInvoke: async (event) => scheduler!.onInvoke(event),
      onShutdown: async (event) => {
        await scheduler!.onShutdown(event);
        await server?.close();
      },
    },
  });
  return exitCode;
}

/**
 * The decision_logs and status plugins, when configured. Every decision-log event and status
 * report carries the configured labels plus OPA's `id` (this execution environment) and `version`.
 */
function buildLoggingPlugins(o: {
  readonly raw: Readonly<Record<string, unknown>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly services: ReadonlyMap<string, ServiceConfig>;
  readonly clients: ReadonlyMap<string, ServiceClient>;
  readonly engine: PolicyEngine;
  readonly logger: Logger;
  readonly pluginStatuses: () => Record<string, PluginStatus>;
  readonly bundleStatuses: () => Record<string, unknown>;
}): { plugins: Plugin[]; decisionLogs?: DecisionLogsPlugin } {
  const labels = { ...o.labels, id: randomUUID(), version: EXTENSION_VERSION };
  const clientFor = (name?: string) => (name === undefined ? undefined : o.clients.get(name));
  const plugins: Plugin[] = [];
  const dlConfig = parseDecisionLogsConfig(o.raw.decision_logs, o.services);
  const decisionLogs = dlConfig && new DecisionLogsPlugin({
    config: dlConfig,
    labels,
    engine: o.engine,
    client: clientFor(dlConfig.service),
    logger: o.logger,
  });
  if (decisionLogs) plugins.push(decisionLogs);
  const statusConfig = parseStatusConfig(o.raw.status, o.services);
  if (statusConfig) {
    plugins.push(new StatusPlugin({
      config: statusConfig,
      labels,
      client: clientFor(statusConfig.service),
      logger: o.logger,
      plugins: o.pluginStatuses,
      bundles: o.bundleStatuses,
      decisionLogs: () => decisionLogs?.uploadStatus(),
      metrics: () => decisionLogs?.metrics() ?? {},
    }));
  }
  return { plugins, decisionLogs };
}

/** Every `<name>.tar.gz` embedded in the layer at synth time, in name order, read as downloads are. */
async function readEmbeddedBundles(dir: string): Promise<Bundle[]> {
  if (!fs.existsSync(dir)) return [];
  const names = fs.readdirSync(dir).filter((f) => f.endsWith(LAYER_LAYOUT.BUNDLE_SUFFIX)).sort();
  const bundles: Bundle[] = [];
  for (const file of names) {
    const name = file.slice(0, -LAYER_LAYOUT.BUNDLE_SUFFIX.length);
    let archive: Buffer;
    try {
      archive = fs.readFileSync(path.join(dir, file));
    } catch (err) {
      throw new BundleError(name, `cannot read ${path.join(dir, file)}: ${(err as Error).message}`, { cause: err });
    }
    bundles.push(await readBundle(name, archive));
  }
  return bundles;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stdout.write(JSON.stringify({ level: 'error', msg: 'extension failed', error: String(err) }) + '\n');
    process.exit(1);
  },
);
