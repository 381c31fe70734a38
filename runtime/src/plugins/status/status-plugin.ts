/**
 * OPA's `status` plugin (https://www.openpolicyagent.org/docs/management-status), driven by the
 * scheduler: each `trigger` sends a report when the state it describes (labels, bundles,
 * decision log uploads, plugin states) changed since the last report the service accepted;
 * `stop` sends one final report at SHUTDOWN even when only the counters changed, so the service
 * sees the end of an execution environment with its final counters, unless the flushing trigger
 * just sent exactly that report.
 */
import type { StatusConfig } from './config';
import type { StatusPayload, StatusSources } from './status-payload';
import { buildStatusPayload, changeKey, statusConsoleLine } from './status-payload';
import { PLUGIN } from '../../../../src/layer-contract';
import type { Plugin, PluginStatus } from '../../contracts/plugin';
import { PluginState } from '../../contracts/plugin';
import { errorMessage } from '../../errors';
import type { Logger } from '../../logger';
import type { ServiceClient } from '../../services/service-client';
import { ServiceHttpError } from '../../services/service-client';

export interface StatusPluginOptions extends StatusSources {
  readonly config: StatusConfig;
  /** The client of `config.service`; required when a service is configured. */
  readonly client?: ServiceClient;
  readonly logger: Logger;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Where console lines go. @default process.stdout */
  readonly console?: (line: string) => void;
}

export class StatusPlugin implements Plugin {
  public readonly name = PLUGIN.STATUS;
  /** The last status (stopping bundles, final counters) is sent before the environment shuts down. */
  public readonly flushOnShutdown = true;

  private readonly config: StatusConfig;
  private readonly sources: StatusSources;
  private readonly client?: ServiceClient;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly write: (line: string) => void;
  private state = PluginState.NOT_READY;
  /** `changeKey` of the last report delivered; undefined before the first. */
  private lastDelivered?: string;
  /** The whole last report delivered, counters included. */
  private lastDeliveredFull?: string;

  public constructor(options: StatusPluginOptions) {
    this.config = options.config;
    this.sources = options;
    this.client = options.client;
    this.logger = options.logger;
    this.now = options.now ?? (() => new Date());
    this.write = options.console ?? ((line) => process.stdout.write(line));
    if (this.config.service !== undefined && !this.client) throw new Error(`status: no client given for service ${this.config.service}`);
  }

  public async start(_signal: AbortSignal): Promise<void> {
    this.state = PluginState.OK;
  }

  public async trigger(signal: AbortSignal): Promise<void> {
    const payload = this.snapshot();
    if (changeKey(payload) === this.lastDelivered) return;
    await this.send(payload, signal);
    this.logger.debug('Status update sent successfully in response to manual trigger.');
  }

  /**
   * Sends the final report. With a signal that already aborted (the shutdown budget ran out), only
   * the console line is written, synchronously.
   */
  public async stop(signal: AbortSignal): Promise<void> {
    const payload = this.snapshot();
    this.state = PluginState.NOT_READY;
    if (signal.aborted) {
      if (this.config.console) this.write(statusConsoleLine(payload, this.now()));
      this.logger.warn('Status Plugin stopped with statuses possibly not sent.', { reason: 'shutdown time ran out' });
      return;
    }
    if (JSON.stringify(payload) === this.lastDeliveredFull) return;
    await this.send(payload, signal);
    this.logger.info('Final status update sent successfully.');
  }

  public status(): PluginStatus {
    return { state: this.state };
  }

  /** The report as it would be sent now. */
  private snapshot(): StatusPayload {
    return buildStatusPayload(this.sources);
  }

  private async send(payload: StatusPayload, signal: AbortSignal): Promise<void> {
    if (this.config.console) this.write(statusConsoleLine(payload, this.now()));
    if (this.client) {
      const res = await this.client.request({
        method: 'POST',
        path: this.config.resource,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify(payload)),
        signal,
      }).catch((err: unknown) => {
        throw new Error(`status update failed: ${errorMessage(err)}`, { cause: err });
      });
      if (res.status < 200 || res.status >= 300) {
        throw new ServiceHttpError(this.client.config.name, res.status, `status update failed, server replied with HTTP ${res.status}`);
      }
    }
    this.lastDelivered = changeKey(payload);
    this.lastDeliveredFull = JSON.stringify(payload);
  }
}
