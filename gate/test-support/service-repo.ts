import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * What a head commit changes in the service. `same`: nothing (head = base). `cpu`: the compute
 * endpoint spins 20 % longer. `memory`: the report endpoint keeps twice the memory per request.
 * `never-ready`: the ready path answers 503 forever and the service says why on stderr.
 */
export type ServiceChange = 'same' | 'cpu' | 'memory' | 'never-ready';

/**
 * Busy-spin of the compute endpoint, on the wall clock: it dominates that endpoint's cost, and a
 * preemption in the middle of it costs nothing extra, so on a busy machine the noise left is a few
 * milliseconds of scheduling around it: long enough that +20 % stands well above that.
 */
const SPIN_MS = 15;
/**
 * Bytes the report endpoint fills and keeps per request. Kept, not freed: a transient buffer's peak
 * depends on when the collector runs and how many requests overlap, which differ between two runs
 * of the same code (seen here: a +17 % A/A peak, and a doubled buffer not seen as such under load).
 * Memory kept per request grows the same way on every run, so the peak per trial is repeatable.
 */
const HOLD_BYTES = 2 << 20;
/** The line a never-ready service prints, which the gate's error must show. */
export const NOT_READY_LINE = 'cannot reach the orders database at 127.0.0.1:1 (connection refused)';

/** The `cpu` change's factor on the compute endpoint's spin unless told otherwise: +20 %. */
const CPU_FACTOR = 1.2;

function knobs(change: ServiceChange, cpuFactor = CPU_FACTOR) {
  return {
    spinMs: change === 'cpu' ? SPIN_MS * cpuFactor : SPIN_MS,
    holdBytes: change === 'memory' ? HOLD_BYTES * 2 : HOLD_BYTES,
    ready: change !== 'never-ready',
  };
}

/** A tiny node:http service (health, items, compute, report), built by copying src/ to dist/. */
export function nodeService(change: ServiceChange, cpuFactor?: number): Record<string, string> {
  const k = knobs(change, cpuFactor);
  return {
    'src/server.js': `const http = require('node:http');
const SPIN_MS = ${k.spinMs};
const HOLD_BYTES = ${k.holdBytes};
const READY = ${k.ready};
if (!READY) console.error(${JSON.stringify(NOT_READY_LINE)});
const items = Array.from({ length: 20 }, (_, i) => ({ id: i, name: 'item ' + i }));
const kept = [];
http.createServer((req, res) => {
  const send = (status, body) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
  if (req.url === '/health') return send(READY ? 200 : 503, { ok: READY });
  if (req.url === '/items') return send(200, items);
  if (req.url === '/compute') {
    const end = performance.now() + SPIN_MS;
    let x = 0;
    while (performance.now() < end) x += Math.sqrt(x + 1);
    return send(200, { x });
  }
  if (req.url === '/report') {
    kept.push(Buffer.alloc(HOLD_BYTES, 1));
    return send(200, { bytes: HOLD_BYTES, requests: kept.length });
  }
  send(404, { error: 'not found' });
}).listen(Number(process.env.PORT), '127.0.0.1');
`,
    'build.js': `const fs = require('node:fs');
fs.mkdirSync('dist', { recursive: true });
fs.copyFileSync('src/server.js', 'dist/server.js');
`,
    'package.json': '{ "name": "shop-node", "private": true, "type": "commonjs" }\n',
    '.gitignore': 'dist/\n',
  };
}

/** The same service in FastAPI under uvicorn (Debian's python3-fastapi and uvicorn). */
export function pythonService(change: ServiceChange, cpuFactor?: number): Record<string, string> {
  const k = knobs(change, cpuFactor);
  return {
    'app.py': `import math, sys, time
from fastapi import FastAPI
from fastapi.responses import JSONResponse

SPIN_S = ${k.spinMs} / 1000
HOLD_BYTES = ${k.holdBytes}
READY = ${k.ready ? 'True' : 'False'}
if not READY:
    print(${JSON.stringify(NOT_READY_LINE)}, file=sys.stderr, flush=True)
app = FastAPI()
ITEMS = [{"id": i, "name": f"item {i}"} for i in range(20)]
KEPT = []

@app.get("/health")
async def health():
    return JSONResponse({"ok": READY}, status_code=200 if READY else 503)

@app.get("/items")
async def items():
    return ITEMS

@app.get("/compute")
async def compute():
    end = time.perf_counter() + SPIN_S
    x = 0.0
    while time.perf_counter() < end:
        x += math.sqrt(x + 1)
    return {"x": x}

@app.get("/report")
async def report():
    KEPT.append(b"\\x01" * HOLD_BYTES)
    return {"bytes": HOLD_BYTES, "requests": len(KEPT)}
`,
  };
}

/**
 * The suite: `shop` (items and compute) and `report` (the memory endpoint) as two scenario files,
 * so that one request's memory work never queues in front of the compute step being timed.
 */
export function suiteFiles(rateRps: number): Record<string, string> {
  const phaseAt = (rate: number) => ({ load: { model: 'open', phases: [{ durationS: 2, rate }] } });
  const scenario = (name: string, flow: unknown[], phase = phaseAt(rateRps)) =>
    `${JSON.stringify({ name, type: 'http', setup: { users: 0 }, flow, profiles: { quick: phase, full: phase } }, null, 2)}\n`;
  return {
    'perf/shop.json': scenario('shop', [
      { name: 'items', method: 'GET', path: '/items' },
      { name: 'compute', method: 'GET', path: '/compute' },
    ]),
    // Half the rate: the memory a service keeps grows by HOLD_BYTES a request, over every trial.
    'perf/report.json': scenario(
      'report',
      [{ name: 'report', method: 'GET', path: '/report' }],
      phaseAt(Math.max(1, rateRps / 2)),
    ),
  };
}

/** The suite entries of suiteFiles, for the project file. */
export const SUITE = ['perf/shop.json', 'perf/report.json'];

export interface ServiceRepo {
  dir: string;
  /** The base commit's branch name. */
  base: string;
  close(): Promise<void>;
}

const git = (cwd: string, args: string[]) => promisify(execFile)('git', args, { cwd });

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
}

/**
 * A git repository made on the fly: a base commit (branch `base`) with `base` files plus the
 * project file and suite, and a head commit on top changing the service to `head` files.
 */
export async function serviceRepo(
  common: Record<string, string>,
  base: Record<string, string>,
  head: Record<string, string>,
): Promise<ServiceRepo> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-service-repo-'));
  await git(dir, ['init', '-q', '-b', 'main']);
  await git(dir, ['config', 'user.email', 'test@headroom.test']);
  await git(dir, ['config', 'user.name', 'headroom test']);
  await writeFiles(dir, { ...common, ...base });
  await git(dir, ['add', '-A']);
  await git(dir, ['commit', '-q', '-m', 'base']);
  await git(dir, ['branch', 'base']);
  await writeFiles(dir, head);
  await git(dir, ['add', '-A']);
  await git(dir, ['commit', '-q', '--allow-empty', '-m', 'head']);
  return { dir, base: 'base', close: () => rm(dir, { recursive: true, force: true }) };
}
