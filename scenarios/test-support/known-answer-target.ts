import { createServer, type ServerResponse } from 'node:http';
import { listenSimulator } from '../../pipeline/sim/simulator-server.js';
import { WakeTimer } from '../wake-timer.js';

/** A target whose latencies are known in advance: a fixed service time and one stall. */
export interface KnownAnswerTargetOptions {
  /** Every request is answered this long after it arrives (or after the stall ends). */
  serviceMs: number;
  /** The stall, in milliseconds after the clock started: requests arriving in it wait for its end. */
  stallStartMs: number;
  stallEndMs: number;
}

/**
 * Requests to this path are answered at once and start no clock, so a target's code can be
 * warmed up before the measured run (the first request through cold code is slow).
 */
export const WARMUP_PATH = '/__warmup';

/** A running test target. */
export interface RunningTarget {
  url: string;
  /** Requests received. */
  readonly requests: number;
  /**
   * Starts the target's clock now instead of at the first request, which is late by the cold
   * cost of a client's first request (a new connection, code not yet optimised) and would shift
   * the stall by that much against the client's schedule. `atEpochMs` (performance.timeOrigin +
   * performance.now() in any process on this machine) starts it at that moment instead of now.
   */
  startClock(atEpochMs?: number): void;
  close(): Promise<void>;
}

/**
 * Starts the known-answer target on 127.0.0.1: a request arriving at time a (from the clock
 * start, by default the first request) is answered at a + serviceMs, or at stallEnd + serviceMs when a falls inside
 * [stallStart, stallEnd). Answers go out on time to well under a millisecond (one wake timer,
 * not one `setTimeout` per request, which would be late by ~1 ms and add its own error to the
 * known answer). Answer times never decrease with arrival order, so a FIFO holds them.
 */
export async function startKnownAnswerTarget(options: KnownAnswerTargetOptions): Promise<RunningTarget> {
  let firstAtMs: number | undefined;
  let requests = 0;
  const due: Array<{ atMs: number; res: ServerResponse }> = [];
  let head = 0;
  const release = () => {
    const nowMs = performance.now();
    while (head < due.length && due[head]!.atMs <= nowMs) {
      const { res } = due[head]!;
      due[head++] = undefined as never;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
      res.end('ok');
    }
    if (head > 1_024 && head * 2 > due.length) {
      due.splice(0, head);
      head = 0;
    }
    if (head < due.length) timer.wakeAt(due[head]!.atMs, nowMs);
  };
  const timer = new WakeTimer(release);
  const server = createServer((req, res) => {
    if (req.url === WARMUP_PATH) {
      res.end('ok');
      return;
    }
    const nowMs = performance.now();
    requests++;
    firstAtMs ??= nowMs;
    const t = nowMs - firstAtMs;
    const startMs =
      t >= options.stallStartMs && t < options.stallEndMs ? firstAtMs + options.stallEndMs : nowMs;
    due.push({ atMs: startMs + options.serviceMs, res });
    timer.wakeAt(startMs + options.serviceMs, nowMs);
  });
  const listening = await listenSimulator(server, { host: '127.0.0.1', port: 0 }, () => timer.stop());
  return {
    url: listening.origin,
    get requests() {
      return requests;
    },
    startClock(atEpochMs) {
      firstAtMs = atEpochMs === undefined ? performance.now() : atEpochMs - performance.timeOrigin;
    },
    close: listening.close,
  };
}
