/**
 * The plugin contract, after OPA's `plugins.Plugin` with manual triggers
 * (https://www.openpolicyagent.org/docs/management-introduction/).
 *
 * A Lambda execution environment is frozen between invocations, so plugins own no timers: the
 * scheduler calls `trigger` when work is due (once at init, then on INVOKE events once
 * `minimum_trigger_threshold` has passed, and at SHUTDOWN for plugins that must flush).
 *
 * To write a plugin:
 * - `start` prepares the plugin (no network round trips that could be done by `trigger`).
 * - `trigger` does one round of the plugin's work (download a bundle, upload logs, send status).
 *   It must return promptly once `signal` aborts: the scheduler gives every plugin of a round one
 *   shared time limit, and moves on without waiting for a plugin that ignores the signal.
 * - `stop` releases what the plugin holds; it must also honour its signal.
 * - `status` says whether the plugin is working, with a message when it is not OK.
 * - `flushOnShutdown`: set it when the plugin buffers what would be lost if it were only stopped
 *   (decision logs, status); the scheduler then triggers it once more at SHUTDOWN, before `stop`.
 * A plugin reports failures by throwing (or rejecting) and by its status; the scheduler logs them
 * and never lets one plugin stop the loop.
 */
export enum PluginState {
  /** Started, but has not yet done what it needs to be useful (for example, no bundle yet). */
  NOT_READY = 'NOT_READY',
  OK = 'OK',
  ERROR = 'ERROR',
  WARN = 'WARN',
}

export interface PluginStatus {
  readonly state: PluginState;
  readonly message?: string;
}

export interface Plugin {
  /** The plugin's name as used in OPA's config and in `plugin_start_priority` (e.g. `bundle`). */
  readonly name: string;
  /** Triggered (flushed) at SHUTDOWN before it is stopped. @default false */
  readonly flushOnShutdown?: boolean;
  start(signal: AbortSignal): Promise<void>;
  stop(signal: AbortSignal): Promise<void>;
  trigger(signal: AbortSignal): Promise<void>;
  status(): PluginStatus;
}
