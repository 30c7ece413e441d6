import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageInvalidError } from '../errors.js';
import { LatencyHistogram } from '../results/latency-histogram.js';
import type { RunResult } from '../results/run-result.js';
import type { ServerSample } from '../results/server-sample.js';
import type { RunProgress } from '../scenarios/run-recorder.js';
import type { FitEvent, LevelEvent } from './capacity-events.js';
import { dashboardPage } from './dashboard-page.js';
import type { StagesEvent } from './demo-events.js';
import type { EtaEvent } from './eta-events.js';
import type { GateRoundEvent } from './gate-events.js';

/** What the page is told once, before any event: what is being watched. */
export interface DashboardMeta {
  title: string;
  /** e.g. "api-stress (quick) against http://127.0.0.1:41234/api/v1". */
  subtitle: string;
  /** Thresholds as written in the scenario, by metric (none for demo, capacity and gate). */
  thresholds: Record<string, string[]>;
}

/**
 * The events a page draws; each is numbered, so a page that reconnects gets exactly what it missed.
 * `second` and `server` come from `run`, `stages` from `demo`, `level` and `fit` from `capacity`,
 * `gate-round` from `gate`, `eta` from `capacity --prometheus --eta --follow`; the page shows the panels of the kinds that arrive.
 */
export type DashboardEvent =
  | { type: 'second'; progress: RunProgress & { phase?: string } }
  | { type: 'server'; sample: ServerSample }
  | StagesEvent
  | LevelEvent
  | FitEvent
  | GateRoundEvent
  | EtaEvent
  | {
      type: 'end';
      passed: boolean;
      verdicts: Array<{ metric: string; expression: string; passed: boolean; actual: string }>;
      report: boolean;
      /** The outcome in a line, for commands without thresholds (a run's verdicts say it). */
      summary?: string;
    };

export interface DashboardOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Listen on every interface instead of loopback only: needs the user's --allow-remote. */
  allowRemote?: boolean;
  meta: DashboardMeta;
}

/** A live page of a run: served on loopback, fed with Server-Sent Events once a second. */
export interface Dashboard {
  readonly url: string;
  publish(event: DashboardEvent): void;
  /** The HTML report, served at /report once the run has one. */
  setReport(html: string): void;
  /** Connections open now (pages watching). */
  readonly watchers: number;
  /** Ends every open connection, as a network drop would (pages reconnect and replay what they missed). */
  dropConnections(): void;
  close(): Promise<void>;
}

/** The longest history kept for replay: an hour of seconds with a server sample each, and then some. */
const MAX_EVENTS = 20_000;

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageInvalidError(`--dashboard: the port must be an integer in 0..65535 (got ${port})`);
  }
  // Each event is serialised once and the same text goes to every page: watching costs the run
  // one JSON.stringify a second, however many pages watch.
  const frames: string[] = [];
  const clients = new Set<ServerResponse>();
  let report: string | undefined;
  const page = dashboardPage(opts.meta);

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page);
    } else if (url.pathname === '/events') {
      const after = Number(req.headers['last-event-id'] ?? url.searchParams.get('after') ?? 0);
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      // A reconnect comes back after half a second and names the last event it has.
      res.write('retry: 500\n\n');
      for (let id = Math.max(0, Number.isFinite(after) ? after : 0); id < frames.length; id++)
        res.write(frames[id]!);
      clients.add(res);
      req.on('close', () => clients.delete(res));
    } else if (url.pathname === '/report' && report !== undefined) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(report);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  };
  const server = createServer(handle);
  const host = opts.allowRemote ? '0.0.0.0' : '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new UsageInvalidError(
              `--dashboard: port ${port} is taken; give another, or --dashboard alone for a free one`,
            )
          : err,
      ),
    );
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${opts.allowRemote ? '127.0.0.1' : host}:${address.port}/`,
    get watchers() {
      return clients.size;
    },
    publish(event) {
      if (frames.length >= MAX_EVENTS) return;
      const frame = `id: ${frames.length + 1}\ndata: ${JSON.stringify(event)}\n\n`;
      frames.push(frame);
      for (const res of clients) res.write(frame);
    },
    setReport(html) {
      report = html;
    },
    dropConnections() {
      for (const res of clients) res.destroy();
      clients.clear();
    },
    async close() {
      for (const res of clients) res.end();
      clients.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The callbacks of `runScenario` that feed a dashboard. */
export function dashboardFeed(dashboard: Dashboard): {
  onProgress: (p: RunProgress & { phase: string }) => void;
  onServerSample: (s: ServerSample) => void;
} {
  return {
    onProgress: (progress) => {
      // Only the load's seconds: setup has no seconds to draw.
      if (progress.live) dashboard.publish({ type: 'second', progress });
    },
    onServerSample: (sample) => dashboard.publish({ type: 'server', sample }),
  };
}

/** The closing event of a run: each threshold's verdict, and whether /report has the HTML report. */
export function endEvent(
  run: {
    passed: boolean;
    thresholds: ReadonlyArray<{ metric: string; threshold: string; actual: number | null; passed: boolean }>;
  },
  report: boolean,
): DashboardEvent {
  return {
    type: 'end',
    passed: run.passed,
    verdicts: run.thresholds.map((t) => ({
      metric: t.metric,
      expression: t.threshold,
      passed: t.passed,
      actual: t.actual === null ? 'n/a' : String(Math.round(t.actual * 1000) / 1000),
    })),
    report,
  };
}

/** Thresholds as the scenario wrote them, by metric (what the page lists while the run is going). */
export function thresholdSources(
  thresholds: Record<string, ReadonlyArray<{ source: string }>>,
): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(thresholds).map(([metric, list]) => [metric, list.map((t) => t.source)]),
  );
}

/**
 * A saved run as the events a live page would have seen: one `second` per point of its time
 * series (the p95 of each second is what a result keeps; p50 and p99 per second are not), its
 * server samples, and the end. What `headroom report --serve` replays.
 */
export function savedRunEvents(
  result: RunResult,
  thresholds: ReadonlyArray<{ metric: string; threshold: string; actual: number | null; passed: boolean }>,
): DashboardEvent[] {
  const steps = result.steps.map((s) => {
    const h = LatencyHistogram.decode(s.latencyHistogram);
    const pct = (p: number) => (h.count === 0 ? null : Math.round(h.percentileMs(p) * 1000) / 1000);
    return { name: s.name, requests: s.requests, p50Ms: pct(50), p95Ms: pct(95), p99Ms: pct(99) };
  });
  const errorsByClass: Record<string, number> = {};
  for (const s of result.steps)
    for (const [cls, n] of Object.entries(s.errors)) errorsByClass[cls] = (errorsByClass[cls] ?? 0) + n;
  let requests = 0;
  let errors = 0;
  const seconds: DashboardEvent[] = result.timeSeries.map((p) => {
    requests += p.requests;
    errors += p.errors;
    return {
      type: 'second',
      progress: {
        elapsedMs: (p.tSec + 1) * 1000,
        rateRps: p.requests,
        p95Ms: p.p95Ms ?? 0,
        requests,
        errors,
        inFlight: p.inFlight,
        live: {
          tSec: p.tSec,
          sentRps: p.requests,
          droppedRps: 0,
          p50Ms: null,
          p95Ms: p.p95Ms,
          p99Ms: null,
          steps,
          errorsByClass,
          meanLagMs: result.schedule?.meanLagMs ?? 0,
          maxLagMs: result.schedule?.maxLagMs ?? 0,
        },
      },
    };
  });
  const passed = thresholds.every((t) => t.passed);
  return [
    ...seconds,
    // A result keeps its server samples as the sampler took them.
    ...result.serverSamples.map(
      (sample): DashboardEvent => ({ type: 'server', sample: sample as unknown as ServerSample }),
    ),
    endEvent({ passed, thresholds }, true),
  ];
}
