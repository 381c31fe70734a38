import { BundleStatus, BundleStatusReport } from './bundle-status';
import { BundlePluginConfig, BundleSource } from './config';
import { downloadBundle } from './downloader';
import type { KeyConfig } from './keys';
import { BundlePersistence } from './persistence';
import { verifyBundleSignature } from './signature-verifier';
import { BundleInitFailure, PLUGIN } from '../../../../src/layer-contract';
import { raceAbort } from '../../abort';
import { Plugin, PluginState, PluginStatus } from '../../contracts/plugin';
import type { Bundle } from '../../engine/bundle';
import { archiveLimits, readBundleArchive } from '../../engine/bundle-archive';
import { parseBundle } from '../../engine/bundle-reader';
import type { PolicyEngine } from '../../engine/policy-engine';
import { BundleError, errorMessage, ExtensionError, toError } from '../../errors';
import { Logger, SILENT_LOGGER } from '../../logger';
import type { ServiceClient } from '../../services/service-client';

export interface BundlePluginOptions {
  readonly config: BundlePluginConfig;
  /** One client per configured service, by name. */
  readonly services: ReadonlyMap<string, ServiceClient>;
  readonly keys: ReadonlyMap<string, KeyConfig>;
  /** Activates bundles atomically: a bundle that fails to load leaves the previous one serving. */
  readonly engine: Pick<PolicyEngine, 'activate' | 'isActive'>;
  readonly logger?: Logger;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * OPA's bundle plugin in manual trigger mode (https://www.openpolicyagent.org/docs/management-bundles):
 * one plugin for every configured `bundles.<name>`. Each `trigger` downloads every bundle once
 * (conditionally, with the last ETag), verifies it, reads it, activates it atomically through
 * the engine and persists it when asked to. Any failure leaves the previous revision serving and
 * is recorded in that bundle's status; the plugin owns no timer.
 */
export class BundlePlugin implements Plugin {
  public readonly name = PLUGIN.BUNDLE;
  private readonly statusByName = new Map<string, BundleStatus>();
  /** ETag of the active bundle of each name; a failed download never changes it (as in OPA). */
  private readonly etags = new Map<string, string>();
  private readonly persistence: BundlePersistence;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly stopping = new AbortController();
  private ready = false;
  private round: Promise<void> = Promise.resolve();

  public constructor(private readonly options: BundlePluginOptions) {
    for (const source of options.config.bundles) {
      if (!options.services.has(source.service)) {
        throw new ExtensionError('ConfigInvalid', `bundles.${source.name}.service ${JSON.stringify(source.service)} has no client`);
      }
      this.statusByName.set(source.name, new BundleStatus(source.name));
    }
    this.persistence = new BundlePersistence(options.config.persistenceDirectory);
    this.logger = options.logger ?? SILENT_LOGGER;
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Activates the persisted copy of every `persist: true` bundle, so a cold start with the bundle
   * service unreachable still serves the last revision (OPA's `loadAndActivateBundlesFromDisk`).
   * A persisted bundle that no longer verifies or loads is reported and skipped.
   */
  public async start(signal: AbortSignal): Promise<void> {
    for (const source of this.options.config.bundles) {
      if (!source.persist || signal.aborted) continue;
      const status = this.statusByName.get(source.name)!;
      try {
        const archive = await this.persistence.load(source.name);
        if (!archive) continue;
        const bundle = await this.prepare(source, archive, signal);
        await this.options.engine.activate(bundle);
        status.setError(undefined);
        status.setActivateSuccess(bundle.manifest.revision, this.now());
        status.size = archive.length;
        this.logger.info('bundle activated', { name: source.name, revision: bundle.manifest.revision, source: 'persisted' });
      } catch (err) {
        status.setError(err);
        this.logger.error('persisted bundle not activated', { name: source.name, error: toError(err) });
      }
    }
    this.checkReadiness();
  }

  /**
   * Downloads every bundle once, all at once (they share the round's time limit). Rejects with
   * the failures when any bundle failed; each failure is also in that bundle's status.
   * Rounds never overlap: a round waits for the one before it to settle.
   */
  public trigger(signal: AbortSignal): Promise<void> {
    const previous = this.round;
    const next = (async () => {
      await raceAbort(previous.catch(() => undefined), signal);
      await this.runRound(AbortSignal.any([signal, this.stopping.signal]));
    })();
    this.round = next.catch(() => undefined);
    return next;
  }

  /** Aborts a round in progress; bundles stay active (the engine owns them). */
  public async stop(signal: AbortSignal): Promise<void> {
    this.stopping.abort(new Error('the bundle plugin is stopping'));
    await raceAbort(this.round, signal).catch(() => undefined);
  }

  /** NOT_READY until every bundle has been activated once; then OK for good, as in OPA. */
  public status(): PluginStatus {
    if (this.ready) return { state: PluginState.OK };
    const missing = this.options.config.bundles.filter((b) => !this.isActivated(b.name)).map((b) => b.name);
    return { state: PluginState.NOT_READY, message: `waiting for bundles to activate: ${missing.join(', ')}` };
  }

  /** Each bundle's status as OPA's status API reports it (the `bundles` object). */
  public statuses(): Record<string, BundleStatusReport> {
    const out: Record<string, BundleStatusReport> = {};
    for (const [name, status] of this.statusByName) out[name] = status.toJSON();
    return out;
  }

  /** True once every configured bundle has been activated (`GET /health?bundles`). */
  public allActivated(): boolean {
    return this.options.config.bundles.every((b) => this.isActivated(b.name));
  }

  /**
   * Called once the init round is over: throws `BundleActivationFailed` naming every bundle with
   * `on_init_failure: fail_init` that is not active (downloaded, persisted or embedded), so init
   * fails closed. Bundles with `start_not_ready` only keep the plugin NOT_READY.
   */
  public assertInitActivated(): void {
    const missing = this.options.config.bundles.filter((b) => b.onInitFailure === BundleInitFailure.FAIL_INIT && !this.isActivated(b.name));
    if (missing.length === 0) return;
    const reasons = missing.map((b) => `${b.name} (${this.statusByName.get(b.name)!.errorMessage ?? 'not downloaded within the trigger timeout'})`);
    throw new BundleError(missing.map((b) => b.name).join(', '), `not activated during init: ${reasons.join('; ')}`);
  }

  private async runRound(signal: AbortSignal): Promise<void> {
    const results = await Promise.allSettled(this.options.config.bundles.map((source) => this.refresh(source, signal)));
    this.checkReadiness();
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      throw new ExtensionError('BundleActivationFailed', failures.map(errorMessage).join('; '));
    }
  }

  /** One bundle, one attempt: after OPA's `Plugin.process`. */
  private async refresh(source: BundleSource, signal: AbortSignal): Promise<void> {
    const status = this.statusByName.get(source.name)!;
    status.setRequest(this.now());
    try {
      if (signal.aborted) throw signal.reason;
      const client = this.options.services.get(source.service)!;
      const result = await downloadBundle(client, source, this.etags.get(source.name), signal);
      status.lastSuccessfulRequest = status.lastRequest;
      if (!result.modified) {
        status.setError(undefined);
        this.logger.debug('bundle not modified', { name: source.name });
        return;
      }
      status.lastSuccessfulDownload = status.lastRequest;
      const bundle = await this.prepare(source, result.archive, signal);
      // The last await is behind us: activation is synchronous in the engine, so no decision
      // can see a half-replaced bundle, and an abort can no longer leave the status behind.
      await this.options.engine.activate(bundle);
      if (result.etag) this.etags.set(source.name, result.etag);
      else this.etags.delete(source.name);
      status.setActivateSuccess(bundle.manifest.revision, this.now());
      status.size = result.archive.length;
      status.setError(undefined);
      this.logger.info('bundle activated', { name: source.name, revision: bundle.manifest.revision, etag: result.etag });
      if (source.persist) await this.persist(source, result.archive, status);
    } catch (err) {
      const error = signal.aborted && err === signal.reason
        ? new BundleError(source.name, `download cancelled: ${errorMessage(signal.reason)}`, { cause: err })
        : err;
      status.setError(error);
      this.logger.error('bundle not activated', { name: source.name, error: toError(error) });
      throw error;
    }
  }

  private async persist(source: BundleSource, archive: Buffer, status: BundleStatus): Promise<void> {
    try {
      await this.persistence.save(source.name, archive);
    } catch (err) {
      // The bundle serves; only the copy for the next cold start is missing.
      const error = new BundleError(source.name, `activated, but persisting it failed: ${errorMessage(err)}`, { cause: err });
      status.setError(error);
      throw error;
    }
  }

  /**
   * Reads the archive once into its list of files; the size limits, the signature and the bundle
   * all judge that one list, so what was verified is what activates.
   */
  private async prepare(source: BundleSource, archive: Buffer, signal: AbortSignal): Promise<Bundle> {
    const files = await readBundleArchive(source.name, archive, archiveLimits(source.sizeLimitBytes), signal);
    await verifyBundleSignature(source.name, files, source.signing, this.options.keys, signal);
    return parseBundle(source.name, files, signal);
  }

  private isActivated(name: string): boolean {
    return this.statusByName.get(name)?.lastSuccessfulActivation !== undefined || this.options.engine.isActive(name);
  }

  private checkReadiness(): void {
    if (!this.ready && this.allActivated()) this.ready = true;
  }
}
