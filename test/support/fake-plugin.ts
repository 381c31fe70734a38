import type { Plugin, PluginStatus } from '../../runtime/src/contracts/plugin';
import { PluginState } from '../../runtime/src/contracts/plugin';

/** What a fake plugin does when called. */
export type Behaviour =
  | 'ok'
  /** Rejects with an Error. */
  | 'reject'
  /** Throws synchronously, before returning a promise. */
  | 'throw'
  /** Settles only when its signal aborts, as a well-behaved plugin does. */
  | 'hang-until-aborted'
  /** Never settles and ignores its signal. */
  | 'hang';

export type Action = 'start' | 'trigger' | 'stop';

/** One shared, ordered log of every call made to a set of fake plugins. */
export class CallLog {
  public readonly calls: string[] = [];

  public record(plugin: string, action: Action): void {
    this.calls.push(`${action} ${plugin}`);
  }

  public count(plugin: string, action: Action): number {
    return this.calls.filter((c) => c === `${action} ${plugin}`).length;
  }

  /** The calls of one kind, in order, e.g. every `stop`. */
  public only(action: Action): string[] {
    return this.calls.filter((c) => c.startsWith(`${action} `)).map((c) => c.slice(action.length + 1));
  }
}

export class FakePlugin implements Plugin {
  public readonly behaviour: Record<Action, Behaviour> = { start: 'ok', trigger: 'ok', stop: 'ok' };
  /** The signals received, for asserting that they were aborted. */
  public readonly signals: AbortSignal[] = [];
  public state: PluginStatus = { state: PluginState.OK };

  public constructor(
    public readonly name: string,
    private readonly log: CallLog,
    behaviour: Partial<Record<Action, Behaviour>> = {},
    public readonly flushOnShutdown = false,
  ) {
    Object.assign(this.behaviour, behaviour);
  }

  public start(signal: AbortSignal): Promise<void> { return this.act('start', signal); }
  public trigger(signal: AbortSignal): Promise<void> { return this.act('trigger', signal); }
  public stop(signal: AbortSignal): Promise<void> { return this.act('stop', signal); }
  public status(): PluginStatus { return this.state; }

  private act(action: Action, signal: AbortSignal): Promise<void> {
    this.log.record(this.name, action);
    this.signals.push(signal);
    switch (this.behaviour[action]) {
      case 'ok': return Promise.resolve();
      case 'reject': return Promise.reject(new Error(`${this.name} ${action} broke`));
      case 'throw': throw new Error(`${this.name} ${action} threw`);
      case 'hang-until-aborted':
        return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      case 'hang': return new Promise(() => undefined);
    }
  }
}

/** Plugins with the default OPA names, sharing one call log; decision_logs and status flush at SHUTDOWN, as the real ones declare. */
export function opaPlugins(log: CallLog, names = ['discovery', 'bundle', 'decision_logs', 'status']): FakePlugin[] {
  return names.map((n) => new FakePlugin(n, log, {}, n === 'decision_logs' || n === 'status'));
}
