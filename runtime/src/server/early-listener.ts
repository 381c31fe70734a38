/**
 * The REST API's socket, listening before the rest of the extension is loaded. Lambda starts the
 * function's init once every extension has registered, and that init may already ask for a
 * decision; so the extension listens, registers, and only then loads the code that answers. A
 * connection that comes in between is held, unread, until {@link EarlyListener.handOver} gives it
 * to the HTTP server (which then makes its requests wait for the policies of init as well).
 * Built on `node:net` alone: `node:http` is loaded after `/register`, with the rest.
 */
import type { Server } from 'node:http';
import { AddressInfo, createServer, Socket } from 'node:net';

/** The REST API listens on loopback only: the function beside it is its one client. */
export const LOOPBACK = '127.0.0.1';

export class EarlyListener {
  private readonly held: Socket[] = [];
  // Paused: nothing is read from a held connection before the HTTP server has it.
  private readonly server = createServer({ pauseOnConnect: true }, (socket) => {
    this.held.push(socket);
  });

  /** Binds `host:port` and resolves with the port bound; rejects with the listen error (the port is taken, say). */
  public listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /**
   * `target` listens on this socket from now on (Node lets a server listen on another's handle),
   * and gets the held connections, in arrival order. Resolves once it is listening.
   */
  public handOver(target: Server): Promise<void> {
    return new Promise((resolve, reject) => {
      target.once('error', reject);
      target.listen(this.server, () => {
        target.off('error', reject);
        for (const socket of this.held.splice(0)) {
          target.emit('connection', socket);
          socket.resume();
        }
        resolve();
      });
    });
  }

  /** Stops listening and drops the held connections (the fast start gave up: the rest of the extension listens by itself). */
  public close(): Promise<void> {
    for (const socket of this.held.splice(0)) socket.destroy();
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }
}
