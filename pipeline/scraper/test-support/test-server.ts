import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A node:http server on 127.0.0.1 standing in for a website in tests, with traffic counters. */
export interface TestServer {
  port: number;
  /** Requests received. */
  readonly requests: number;
  /** TCP connections accepted. */
  readonly connections: number;
  /** Most requests being answered at the same time. */
  readonly maxConcurrent: number;
  /** Stops listening and drops every connection, including ones a handler never answers. */
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1, on a free port. */
export async function startTestServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer> {
  let requests = 0;
  let connections = 0;
  let concurrent = 0;
  let maxConcurrent = 0;
  const server = createServer((req, res) => {
    requests++;
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    res.once('close', () => {
      concurrent--;
    });
    handler(req, res);
  });
  server.on('connection', () => {
    connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get requests() {
      return requests;
    },
    get connections() {
      return connections;
    },
    get maxConcurrent() {
      return maxConcurrent;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
