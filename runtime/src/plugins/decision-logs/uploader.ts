/**
 * Sends one chunk as OPA does (`uploadChunk` in `v1/plugins/logs/plugin.go`):
 * `POST <service><resource>` with `Content-Type: application/json` and `Content-Encoding: gzip`;
 * any 2xx is success (https://www.openpolicyagent.org/docs/management-decision-logs).
 */
import { ServiceClient, ServiceHttpError } from '../../services/service-client';

export class DecisionLogUploader {
  public constructor(private readonly client: ServiceClient, private readonly resource: string) {}

  public get service(): string {
    return this.client.config.name;
  }

  /** Resolves once the service accepted the chunk; rejects on a non-2xx answer, a network error or an abort. */
  public async upload(body: Buffer, signal: AbortSignal): Promise<void> {
    const res = await this.client.request({
      method: 'POST',
      path: this.resource,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body,
      signal,
    });
    if (res.status < 200 || res.status >= 300) {
      // OPA's message for this case (lstat.HTTPError).
      throw new ServiceHttpError(this.service, res.status, `log upload failed, server replied with HTTP ${res.status}`);
    }
  }
}
