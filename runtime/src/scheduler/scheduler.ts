/**
 * Runs the plugins in step with the Lambda lifecycle, with the semantics of the Go plugin this
 * project replaces (godaddy/opa-lambda-extension-plugin, `plugins/lambda/plugin.go`): an
 * execution environment is frozen between invocations, so plugins cannot own timers; instead
 * every plugin is triggered at init, on an INVOKE once `minimum_trigger_threshold` has passed, and
 * (for the ones that must flush) at SHUTDOWN. The lifecycle does not ask for the next event until
 * a round is over, so a round is bounded by one shared `trigger_timeout`.
 */
import { errorMessage, ExtensionError } from '../errors';
import type { Logger } from '../logger';
import type { SchedulerConfig } from './config';
import type { Plugin, PluginStatus } from '../contracts/plugin';
import { PluginState } from '../contracts/plugin';

/**
 * Kept free before Lambda's SHUTDOWN deadline. Lambda sends SIGKILL at `deadlineMs` (the whole
 * Shutdown phase is capped at 2 s for external extensions, per "Lambda execution environment
 * lifecycle"); after the last plugin returns we still have to leave the event loop, let the
 * caller close the server and exit the process, which takes a few tens of milliseconds and more
 * on a throttled CPU. 200 ms leaves room for that and for timer lateness.
 */
export const SHUTDOWN_SAFETY_MARGIN_MS = 200;

export interface SchedulerOptions {
  readonly config: SchedulerConfig;
  readonly logger: Logger;
  /** Wall clock in epoch milliseconds, the unit of Lambda's `deadlineMs`. @default Date.now */
  readonly now?: () => number;
  /** @default SHUTDOWN_SAFETY_MARGIN_MS */
  readonly shutdownMarginMs?: number;
}

export interface ShutdownDeadline {
  /** Epoch milliseconds at which Lambda kills the process. */
  readonly deadlineMs: number;
}

type Outcome = { readonly ok: true } | { readonly ok: false; readonly timedOut: boolean; readonly error?: unknown };

/**
 * Built before the plugins and given them with `register`, as OPA's plugin manager is: a plugin
 * that reports on the others (status) can then be handed `pluginStatuses` of the scheduler it is
 * registered with, without a reference to something not built yet.
 */
export class Scheduler {
  private readonly plugins: Plugin[] = [];
  private readonly config: SchedulerConfig;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly shutdownMarginMs: number;
  /** `init` has begun: a plugin registered from then on would never be started. */
  private initialised = false;
  private invoked = false;
  /** When the last trigger round (init or INVOKE) started, by `now()`; undefined before the first. */
  private lastRoundAt: number | undefined;
  /** Trigger rounds run so far (the init round and INVOKE rounds; SHUTDOWN is not counted). */
  private rounds = 0;

  public constructor(options: SchedulerOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.shutdownMarginMs = options.shutdownMarginMs ?? SHUTDOWN_SAFETY_MARGIN_MS;
  }

  /**
   * Adds plugins, before `init`. An undefined entry (a plugin its configuration leaves off, as a
   * plugin factory returns it) is skipped. Plugins a priority list does not name run after the
   * ones it names, in the order they were registered.
   */
  public register(...plugins: ReadonlyArray<Plugin | undefined>): void {
    for (const plugin of plugins) {
      if (!plugin) continue;
      if (this.initialised) throw new Error(`plugin ${JSON.stringify(plugin.name)} registered after init`);
      if (this.plugins.some((p) => p.name === plugin.name)) throw new Error(`two plugins are registered as ${JSON.stringify(plugin.name)}`);
      this.plugins.push(plugin);
    }
  }

  /**
   * Starts every plugin, then runs the first round of triggers, so that a bundle is fetched
   * before the function's first request when the network allows it.
   *
   * This round does not count against `minimum_trigger_threshold`: the Go plugin triggers at init
   * without setting its `lastTriggerTime`, so its first INVOKE always triggers again. That matters
   * because init may run long before the first INVOKE (provisioned concurrency, SnapStart), and
   * the init round may have timed out within Lambda's 10 s init limit.
   */
  public async init(): Promise<void> {
    this.initialised = true;
    const order = this.ordered(this.config.pluginStartPriority);
    // Starts share one `trigger_timeout` budget: they should do no network round trip (see the
    // plugin contract) and Lambda's init phase is short, so a start that hangs is a failure.
    const round = new Round(this.config.triggerTimeoutMs);
    try {
      for (const plugin of order) {
        const outcome = await round.run((signal) => plugin.start(signal));
        if (!outcome.ok) {
          const why = outcome.timedOut ? `did not start within ${this.config.triggerTimeoutMs} ms` : `failed to start: ${errorMessage(outcome.error)}`;
          throw new ExtensionError('PluginStartFailed', `plugin ${plugin.name} ${why}`, { cause: outcome.error });
        }
        this.logger.debug('plugin started', { plugin: plugin.name });
      }
    } finally {
      round.end();
    }
    await this.triggerAll('init');
  }

  /** Triggers every plugin when this is the first INVOKE or the threshold has passed. */
  public async onInvoke(_event?: unknown): Promise<void> {
    const due = !this.invoked
      || this.lastRoundAt === undefined
      // Strictly more than the threshold, as the Go plugin's `time.Since(last) > threshold`.
      || this.now() - this.lastRoundAt > this.config.minimumTriggerThresholdMs;
    this.invoked = true;
    if (!due) return;
    await this.triggerAll('invoke');
  }

  /**
   * Walks `plugin_stop_priority`, flushing the plugins that buffer before stopping them, then stops
   * the plugins the list does not name. Everything shares one budget that ends before Lambda's
   * deadline even when `trigger_timeout` is longer, because Lambda kills the process at
   * `deadlineMs` whatever is still in flight.
   */
  public async onShutdown(event: ShutdownDeadline): Promise<void> {
    const startedAt = this.now();
    const budgetMs = Math.max(0, Math.min(this.config.triggerTimeoutMs, event.deadlineMs - startedAt - this.shutdownMarginMs));
    const round = new Round(budgetMs);
    try {
      for (const plugin of this.ordered(this.config.pluginStopPriority)) {
        // Plugins that buffer (decision_logs, status) are flushed before they stop, as the Go plugin
        // does ("stopping these plugins does not do this automatically"), wherever they come in
        // the order, listed or not: losing buffered decisions is worse than a plugin stopping late.
        if (plugin.flushOnShutdown) {
          if (round.timedOut) {
            this.logger.warn('plugin not flushed: shutdown time ran out', { plugin: plugin.name, budgetMs });
          } else {
            this.report(plugin, 'trigger', await round.run((signal) => plugin.trigger(signal)), budgetMs);
          }
        }
        if (round.timedOut) {
          // Still tell the plugin to stop (with an aborted signal) so it can release what it holds
          // synchronously, but do not wait: the deadline is Lambda's, not ours.
          round.fireAndForget((signal) => plugin.stop(signal));
        } else {
          this.report(plugin, 'stop', await round.run((signal) => plugin.stop(signal)), budgetMs);
        }
      }
    } finally {
      round.end();
    }
    this.logger.info('plugins stopped', { durationMs: this.now() - startedAt, budgetMs, timedOut: round.timedOut });
  }

  /** Each plugin's own status, by name. */
  public pluginStatuses(): Record<string, PluginStatus> {
    const out: Record<string, PluginStatus> = {};
    for (const plugin of this.plugins) {
      try {
        out[plugin.name] = plugin.status();
      } catch (err) {
        out[plugin.name] = { state: PluginState.ERROR, message: `status() failed: ${errorMessage(err)}` };
      }
    }
    return out;
  }

  /** One round: every plugin in start priority, one after another, under one shared timeout. */
  private async triggerAll(cause: 'init' | 'invoke'): Promise<void> {
    const startedAt = this.now();
    this.lastRoundAt = startedAt;
    this.rounds++;
    const round = new Round(this.config.triggerTimeoutMs);
    try {
      for (const plugin of this.ordered(this.config.pluginStartPriority)) {
        if (round.timedOut) {
          this.logger.warn('plugin not triggered: round time ran out', { plugin: plugin.name, timeoutMs: this.config.triggerTimeoutMs });
          continue;
        }
        this.report(plugin, 'trigger', await round.run((signal) => plugin.trigger(signal)), this.config.triggerTimeoutMs);
      }
    } finally {
      round.end();
    }
    this.logger.debug('plugins triggered', { cause, round: this.rounds, durationMs: this.now() - startedAt, timedOut: round.timedOut });
  }

  private report(plugin: Plugin, action: 'trigger' | 'stop', outcome: Outcome, timeoutMs: number): void {
    if (outcome.ok) return;
    if (outcome.timedOut) {
      this.logger.warn(`plugin ${action} timed out`, { plugin: plugin.name, reason: `no answer within ${timeoutMs} ms`, timeoutMs });
    } else {
      this.logger.warn(`plugin ${action} failed`, { plugin: plugin.name, reason: errorMessage(outcome.error) });
    }
  }

  /**
   * Plugins in the order of `priority`; names without a registered plugin are skipped (the
   * defaults name plugins a config may not enable), and registered plugins the list does not name
   * follow in registration order, so none is forgotten.
   */
  private ordered(priority: readonly string[]): Plugin[] {
    const byName = new Map(this.plugins.map((p) => [p.name, p]));
    const out: Plugin[] = [];
    for (const name of priority) {
      const plugin = byName.get(name);
      if (plugin && !out.includes(plugin)) out.push(plugin);
    }
    for (const plugin of this.plugins) if (!out.includes(plugin)) out.push(plugin);
    return out;
  }
}

/**
 * One shared time limit: an AbortController aborted when the time runs out, and a promise every
 * step races against, so a plugin that ignores its signal is abandoned rather than awaited.
 */
class Round {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly expired: Promise<'expired'>;

  public constructor(budgetMs: number) {
    let expire!: () => void;
    this.expired = new Promise((resolve) => { expire = () => resolve('expired'); });
    this.timer = setTimeout(() => {
      expire();
      this.controller.abort(new Error(`time limit of ${budgetMs} ms reached`));
    }, budgetMs);
    // A round must never be what keeps the process alive (the lifecycle decides when to exit).
    this.timer.unref();
  }

  public get timedOut(): boolean {
    return this.controller.signal.aborted;
  }

  public async run(step: (signal: AbortSignal) => Promise<void>): Promise<Outcome> {
    if (this.timedOut) return { ok: false, timedOut: true };
    const settled = this.invoke(step).then(
      (): Outcome => ({ ok: true }),
      (error: unknown): Outcome => ({ ok: false, timedOut: this.timedOut, error }),
    );
    const result = await Promise.race([settled, this.expired]);
    return result === 'expired' ? { ok: false, timedOut: true } : result;
  }

  public fireAndForget(step: (signal: AbortSignal) => Promise<void>): void {
    this.invoke(step).catch(() => undefined);
  }

  public end(): void {
    clearTimeout(this.timer);
  }

  /** Runs a step so that a synchronous throw becomes a rejection and a late one is never unhandled. */
  private invoke(step: (signal: AbortSignal) => Promise<void>): Promise<void> {
    try {
      return Promise.resolve(step(this.controller.signal));
    } catch (err) {
      return Promise.reject(err);
    }
  }
}
