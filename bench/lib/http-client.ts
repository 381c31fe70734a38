/**
 * A keep-alive HTTP client on node:http, as an SDK in the function would use it: one Agent with
 * `keepAlive` and as many sockets as the concurrency. Targets 127.0.0.1 only; every loop is
 * bounded in count and in time.
 */
import * as http from 'node:http';
import { LOOP_TIME_LIMIT_MS } from './config';

export interface Target {
  readonly port: number;
  /** e.g. `/v1/data/app/rbac/allow` */
  readonly path: string;
}

export class KeepAliveClient {
  private readonly agent: http.Agent;

  public constructor(private readonly target: Target, concurrency = 1) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  }

  /** One POST of `body`; resolves with the status once the response body is read. */
  public post(body: string | Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: this.target.port,
        path: this.target.path,
        method: 'POST',
        agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`no answer from 127.0.0.1:${this.target.port}${this.target.path} in 30 s`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /**
   * `count` sequential POSTs (stopping early at `timeLimitMs`); returns each round trip in ms.
   * Throws on the first non-200 answer: a figure over errors would be meaningless.
   */
  public async sequential(body: string | Buffer, count: number, timeLimitMs = LOOP_TIME_LIMIT_MS): Promise<number[]> {
    const samples: number[] = [];
    const stopAt = performance.now() + timeLimitMs;
    for (let i = 0; i < count && performance.now() < stopAt; i++) {
      const t0 = performance.now();
      const status = await this.post(body);
      samples.push(performance.now() - t0);
      if (status !== 200) throw new Error(`127.0.0.1:${this.target.port}${this.target.path} answered ${status}`);
    }
    return samples;
  }

  /**
   * `concurrency` workers POSTing back to back for `durationMs` (or until `maxCount` requests in
   * all); returns completed requests and the elapsed time.
   */
  public async closedLoop(
    body: string | Buffer, concurrency: number, durationMs: number, maxCount = Number.MAX_SAFE_INTEGER,
  ): Promise<{ count: number; elapsedMs: number }> {
    let started = 0;
    let completed = 0;
    const t0 = performance.now();
    const stopAt = t0 + Math.min(durationMs, LOOP_TIME_LIMIT_MS);
    const worker = async (): Promise<void> => {
      while (started < maxCount && performance.now() < stopAt) {
        started++;
        const status = await this.post(body);
        if (status !== 200) throw new Error(`127.0.0.1:${this.target.port}${this.target.path} answered ${status}`);
        completed++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { count: completed, elapsedMs: performance.now() - t0 };
  }

  public close(): void {
    this.agent.destroy();
  }
}

/** GET `url` once without keep-alive; resolves with the status, or 0 when nothing listens. */
export function probe(port: number, path: string, timeoutMs = 1_000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/**
 * POSTs `body` to `path` on a new connection every millisecond until the answer is 200 with
 * `"result":true` (a refused connection or another answer is asked again); resolves with the
 * performance.now() of that answer. Gives up after `timeoutMs`.
 */
export async function firstDecision(port: number, path: string, body: string, timeoutMs: number): Promise<number> {
  const giveUpAt = performance.now() + timeoutMs;
  while (performance.now() < giveUpAt) {
    const answer = await new Promise<string | undefined>((resolve) => {
      const req = http.request({
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent: false,
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => { text += d.toString('utf8'); });
        res.on('end', () => resolve(res.statusCode === 200 ? text : undefined));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(undefined));
      req.end(body);
    });
    const at = performance.now();
    if (answer !== undefined && (JSON.parse(answer) as { result?: unknown }).result === true) return at;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`no decision from 127.0.0.1:${port}${path} within ${timeoutMs} ms`);
}
