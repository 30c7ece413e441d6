import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenSimulator } from '../../sim/simulator-server.js';

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
  const listening = await listenSimulator(server, { host: '127.0.0.1', port: 0 });
  return {
    port: listening.port,
    get requests() {
      return requests;
    },
    get connections() {
      return connections;
    },
    get maxConcurrent() {
      return maxConcurrent;
    },
    close: listening.close,
  };
}
