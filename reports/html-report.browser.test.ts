import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../atomic-file.js';
import type { RunResult } from '../results/run-result.js';
import { runMetrics } from '../scenarios/run-metrics.js';
import { evaluateThresholds, parseThreshold } from '../scenarios/threshold.js';
import { renderHtmlReport } from './html-report.js';
import { runReportDocument } from './run-report.js';
import { measuredRun } from './test-support/measured-run.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '__artifacts__');

/** What the page did while it loaded: everything the checks below look at. */
interface PageVisit {
  result: RunResult;
  fileUrl: string;
  consoleErrors: string[];
  pageErrors: string[];
  requests: string[];
  canvases: Array<{ id: string; width: number; height: number; paintedPixels: number }>;
  axes: Array<{ id: string; x: string; y: string }>;
  headings: string[];
}

/** The little of a page's canvas and chart.js scale the checks read. */
interface PageCanvas {
  id: string;
  width: number;
  height: number;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
  };
}
interface PageScale {
  title?: { display?: boolean; text?: string };
}

let browser: Browser | undefined;
let visiting: Promise<PageVisit> | undefined;

/**
 * Measures a run, renders its report and loads it in Chromium, once for all tests. The browser is
 * part of the test environment: when it is missing every test fails saying how to install it.
 */
const visitReport = () => (visiting ??= loadReport());

async function loadReport(): Promise<PageVisit> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: apt-get install chromium (as root: apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)`,
    );
  }
  const result = await measuredRun({ durationMs: 2_000, rateRps: 100 });
  const thresholds = evaluateThresholds(
    { latency: [parseThreshold('p(95)<500')], errors: [parseThreshold('rate<0.01')] },
    runMetrics(result),
  );
  const dir = await mkdtemp(path.join(tmpdir(), 'headroom-report-'));
  const file = path.join(dir, 'run-report.html');
  await writeFileAtomic(file, renderHtmlReport(runReportDocument(result, { thresholds })));
  const fileUrl = pathToFileURL(file).href;

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const seen: PageVisit = {
    result,
    fileUrl,
    consoleErrors: [],
    pageErrors: [],
    requests: [],
    canvases: [],
    axes: [],
    headings: [],
  };
  page.on('console', (m) => {
    if (m.type() === 'error') seen.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => seen.pageErrors.push(e.message));
  page.on('request', (r) => seen.requests.push(r.url()));
  // Anything but the report itself is refused, so a stray reference fails here, not in a user's browser.
  await page.route('**/*', (route) => (route.request().url() === fileUrl ? route.continue() : route.abort()));
  await page.goto(fileUrl, { waitUntil: 'load' });

  // These functions run in the page, where the DOM exists; this project's types are Node's only.
  seen.canvases = await page.evaluate(() => {
    const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<PageCanvas> } })
      .document;
    return [...doc.querySelectorAll('canvas')].map((canvas) => {
      const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let painted = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) painted++;
      return { id: canvas.id, width: canvas.width, height: canvas.height, paintedPixels: painted };
    });
  });
  seen.axes = await page.evaluate(() => {
    const page = globalThis as unknown as {
      document: { querySelectorAll(s: string): Iterable<PageCanvas> };
      Chart: { getChart(canvas: PageCanvas): { options: { scales: Record<string, PageScale> } } | undefined };
    };
    const title = (s: PageScale | undefined) => (s?.title?.display ? (s.title.text ?? '') : '');
    return [...page.document.querySelectorAll('canvas')].map((canvas) => {
      const scales = page.Chart.getChart(canvas)?.options.scales;
      return { id: canvas.id, x: title(scales?.x), y: title(scales?.y) };
    });
  });
  seen.headings = await page.locator('h2').allTextContents();
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'run-report.png'), fullPage: true });
  await rm(dir, { recursive: true, force: true });
  return seen;
}

afterAll(async () => {
  await browser?.close();
});

describe('the HTML run report in headless Chromium', () => {
  it('loads without console errors or page errors', async () => {
    const visit = await visitReport();
    expect(visit.consoleErrors).toEqual([]);
    expect(visit.pageErrors).toEqual([]);
  });

  it('requests nothing but the report file itself', async () => {
    const visit = await visitReport();
    expect(visit.requests).toEqual([visit.fileUrl]);
  });

  it('draws every chart: each canvas has painted pixels', async () => {
    const visit = await visitReport();
    // Over time (2), distribution, CPU, memory, heap trend; the pipeline has no DB pool or busy queue here.
    expect(visit.canvases.length).toBeGreaterThanOrEqual(6);
    for (const c of visit.canvases) {
      expect(c.width * c.height, c.id).toBeGreaterThan(0);
      // A blank canvas is fully transparent; axes, labels and lines paint thousands of pixels.
      expect(c.paintedPixels, c.id).toBeGreaterThan(1_000);
    }
  });

  it('titles both axes of every chart, with the unit in parentheses', async () => {
    const visit = await visitReport();
    expect(visit.axes).toHaveLength(visit.canvases.length);
    for (const a of visit.axes) {
      expect(a.x, `${a.id} x`).toMatch(/^\S.* \(.+\)$/);
      expect(a.y, `${a.id} y`).toMatch(/^\S.* \(.+\)$/);
    }
  });

  it('shows the sections a measured run with server and heap samples has', async () => {
    const visit = await visitReport();
    expect(visit.result.serverSamples.length).toBeGreaterThan(3);
    expect(visit.headings).toEqual([
      'Summary',
      'Over time',
      'Latency distribution',
      'Target resources',
      'Heap trend',
    ]);
  });
});
