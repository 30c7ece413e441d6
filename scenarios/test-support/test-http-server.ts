import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenSimulator } from '../../pipeline/sim/simulator-server.js';

/** A node:http server on 127.0.0.1 for engine tests, recording when each request arrived. */
export interface TestHttpServer {
  url: string;
  /** performance.now() of each request's arrival, in order. */
  readonly arrivalsMs: number[];
  /** Most requests open at the same time. */
  readonly maxConcurrent: number;
  /** Stops listening and drops every connection, including ones a handler never answers. */
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1, on a free port. */
export async function startTestHttpServer(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<TestHttpServer> {
  const arrivalsMs: number[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const server = createServer((req, res) => {
    arrivalsMs.push(performance.now());
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    res.once('close', () => {
      concurrent--;
    });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  const listening = await listenSimulator(server, { host: '127.0.0.1', port: 0 });
  return {
    url: listening.origin,
    arrivalsMs,
    get maxConcurrent() {
      return maxConcurrent;
    },
    close: listening.close,
  };
}

/** Answers 200 with a small text body. */
export function answerOk(res: ServerResponse, body = 'ok'): void {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
