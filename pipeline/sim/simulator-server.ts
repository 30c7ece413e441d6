import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Keep-alive long enough that a client reuses its connections across a whole run. */
const KEEP_ALIVE_TIMEOUT_MS = 60_000;

/** A simulated server (a simulator, a test target), listening: its port, its URL origin, and an idempotent close. */
export interface ListeningSimulator {
  port: number;
  /** `http://host:port`, with an IPv6 host in brackets. */
  origin: string;
  /** Stops listening and drops every connection, held ones included. */
  close(): Promise<void>;
}

/**
 * Starts a simulator's server with the socket settings every simulator needs: keep-alive that
 * outlives a run, and no server-side request timeout, since held requests (site timeouts, slow
 * bodies, LLM streams) are the behaviour being simulated. `beforeClose` stops the simulator's own
 * timers before the connections are dropped.
 */
export async function listenSimulator(
  server: Server,
  at: { host: string; port: number },
  beforeClose?: () => void,
): Promise<ListeningSimulator> {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // Node's default of 60 s would cut idle keep-alive sockets just as a client reuses them.
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 5_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = at.host.includes(':') ? `[${at.host}]` : at.host;
  let closing: Promise<void> | undefined;
  return {
    port,
    origin: `http://${urlHost}:${port}`,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        beforeClose?.();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
