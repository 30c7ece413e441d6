/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Functions passed to page.evaluate run in the browser: they see its window and document.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarizeRun } from '../analyzer/summary.js';
import { parseScenario } from '../scenarios/load-scenario.js';
import { runScenario, type ScenarioRun } from '../scenarios/run-scenario.js';
import { dashboardFeed, endEvent, startDashboard, thresholdSources } from './dashboard-server.js';
import { ARTIFACTS, launchChromium, watch as watchPage } from './test-support/dashboard-browser.js';

/** A short open-model run of the reference pipeline's health and stats endpoints. */
function scenario(durationS: number, rate: number) {
  return parseScenario(
    {
      name: 'dashboard-check',
      type: 'http',
      flow: [{ name: 'health', method: 'GET', path: '/health' }],
      thresholds: { latency: ['p(95)<500'], errors: ['rate<0.01'] },
      profiles: {
        quick: { load: { model: 'open', phases: [{ durationS, rate }] } },
        full: { load: { model: 'open', phases: [{ durationS, rate }] } },
      },
    },
    'dashboard-check.json',
    'quick',
  );
}

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const watch = (url: string) => watchPage(browser, url);

/** What the page has drawn, read from the page itself. */
const drawn = (page: Page) =>
  page.evaluate(() => {
    const d = (window as unknown as { headroomDashboard: Record<string, unknown> }).headroomDashboard as {
      seconds: number[];
      serverSeconds: number[];
      reconnects: number;
      ended: { passed: boolean } | null;
      charts: Record<string, { data: { datasets: Array<{ data: unknown[] }> } }>;
    };
    return {
      seconds: [...d.seconds],
      latencyPoints: d.charts.latency!.data.datasets[1]!.data.length,
      ratePoints: d.charts.rate!.data.datasets[0]!.data.length,
      cpuPoints: d.charts.cpu!.data.datasets[0]!.data.length,
      reconnects: d.reconnects,
      ended: d.ended,
      status: document.getElementById('status')!.textContent,
      reportLink: document.querySelector('#report a')?.getAttribute('href') ?? null,
    };
  });

describe('the live dashboard in a real browser', () => {
  it('gains points second by second during a real run, loses no second to a dropped connection, and links the report', async () => {
    const s = scenario(10, 40);
    const dashboard = await startDashboard({
      meta: {
        title: 'headroom run dashboard-check',
        subtitle: 'test',
        thresholds: thresholdSources(s.thresholds),
      },
    });
    expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const { page, problems } = await watch(dashboard.url);
    const feed = dashboardFeed(dashboard);
    let published = 0;
    const running: Promise<ScenarioRun> = runScenario(s, {
      onProgress: (p) => {
        if (p.live) published++;
        feed.onProgress(p);
      },
      onServerSample: feed.onServerSample,
    });

    // Read from the page: its charts grow while the run goes on.
    await page.waitForFunction(
      () =>
        (window as unknown as { headroomDashboard: { seconds: number[] } }).headroomDashboard.seconds
          .length >= 3,
      undefined,
      { timeout: 60_000 },
    );
    const early = await drawn(page);
    await page.waitForTimeout(2_200);
    const later = await drawn(page);
    expect(later.latencyPoints).toBeGreaterThan(early.latencyPoints);
    expect(later.ratePoints).toBeGreaterThan(early.ratePoints);
    expect(later.status).toBe('live');

    // The connection drops (as a network would) and comes back: the page asks for what it missed.
    dashboard.dropConnections();
    await page.waitForTimeout(1_500);
    const run = await running;
    dashboard.setReport('<!doctype html><title>report</title>');
    dashboard.publish(endEvent(run, true));
    await page.waitForFunction(
      () => (window as unknown as { headroomDashboard: { ended: unknown } }).headroomDashboard.ended !== null,
      undefined,
      { timeout: 30_000 },
    );
    const end = await drawn(page);

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    expect(end.reconnects).toBeGreaterThanOrEqual(1);
    // Every second the run published is on the page once, in order, none missing.
    expect(end.seconds).toEqual(Array.from({ length: published }, (_, i) => i));
    // Every whole second of the run; the last, partial one closes after the load and is not live.
    expect(end.seconds.length).toBeGreaterThanOrEqual(run.result.timeSeries.length - 1);
    expect(end.cpuPoints).toBeGreaterThan(3);
    expect(end.status).toMatch(/^finished: thresholds passed/);
    expect(end.reportLink).toBe('/report');
    const report = await page.request.get(new URL('/report', dashboard.url).href);
    expect(await report.text()).toContain('<title>report</title>');
    // The cut itself is the browser's one complaint (the stream ended mid-chunk); nothing else.
    const cut = problems.filter((p) => p.includes('net::ERR_INCOMPLETE_CHUNKED_ENCODING'));
    expect(cut.length).toBeLessThanOrEqual(1);
    expect(problems.filter((p) => !cut.includes(p))).toEqual([]);
    await page.close();
    await dashboard.close();
  });

  it('costs the run nothing measurable: schedule error and latency with two pages watching as without', async () => {
    // Pairs of runs, without and with the dashboard watched by two pages, alternated so that a
    // machine that slows down over time weighs on both alike.
    const figures = {
      without: [] as Array<{ err: number; p50: number }>,
      with: [] as Array<{ err: number; p50: number }>,
    };
    for (const watched of [false, true, false, true]) {
      const s = scenario(4, 150);
      if (!watched) {
        const run = await runScenario(s);
        figures.without.push({
          err: run.result.schedule!.scheduleError,
          p50: summarizeRun(run.result).figures['latency.p50']!.value,
        });
        continue;
      }
      const dashboard = await startDashboard({ meta: { title: 't', subtitle: 't', thresholds: {} } });
      const pages = [await watch(dashboard.url), await watch(dashboard.url)];
      const run = await runScenario(s, dashboardFeed(dashboard));
      expect(dashboard.watchers).toBe(2);
      figures.with.push({
        err: run.result.schedule!.scheduleError,
        p50: summarizeRun(run.result).figures['latency.p50']!.value,
      });
      for (const p of pages) {
        expect(p.problems).toEqual([]);
        await p.page.close();
      }
      await dashboard.close();
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // The generator keeps its schedule as well either way (its own budget is 1 %).
    for (const f of [...figures.with, ...figures.without]) expect(f.err).toBeLessThan(0.01);
    // Latency: the difference of the means within three times the spread seen between runs of
    // the same kind, and never less than 0.5 ms (a loopback p50 is about 1 ms on this machine).
    const noise = Math.max(
      Math.abs(figures.without[0]!.p50 - figures.without[1]!.p50),
      Math.abs(figures.with[0]!.p50 - figures.with[1]!.p50),
    );
    const difference = Math.abs(
      mean(figures.with.map((f) => f.p50)) - mean(figures.without.map((f) => f.p50)),
    );
    expect(difference, JSON.stringify(figures)).toBeLessThanOrEqual(Math.max(3 * noise, 0.5));
  });
});
