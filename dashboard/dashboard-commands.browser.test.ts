/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Functions passed to page.evaluate run in the browser: they see its window and document.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../exit-code.js';
import { ARTIFACTS, launchChromium, startCommand, watch } from './test-support/dashboard-browser.js';

let browser: Browser;
let dir: string;
beforeAll(async () => {
  browser = await launchChromium();
  dir = await mkdtemp(path.join(tmpdir(), 'headroom-dashboard-commands-'));
  await mkdir(ARTIFACTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await rm(dir, { recursive: true, force: true });
});

/** What the page keeps of what it drew, read from the page itself. */
const state = (page: Page) =>
  page.evaluate(() => {
    const d = (window as unknown as { headroomDashboard: Record<string, unknown> }).headroomDashboard as {
      kinds: string[];
      ticks: Array<{ messages: number; failed: number; inProgress: number }>;
      levels: Array<{ stage: string; concurrency: number; throughputRps: number }>;
      fit: { stages: Array<{ stage: string; curve: unknown[] }> } | null;
      gateRounds: Array<{ scenario: string; round: number; roundsDone: number; figures: number }>;
      ended: { passed: boolean; summary?: string } | null;
      charts: {
        stageRate: { data: { datasets: Array<{ data: unknown[] }> } };
        gateRatio: { data: { datasets: Array<{ data: unknown[] }> } };
        stages: Record<string, { data: { datasets: Array<{ data: unknown[] }> } }>;
      };
    };
    const visible = [...document.querySelectorAll('section')]
      .filter((s) => !s.hidden)
      .map((s) => s.querySelector('h2')!.textContent);
    return {
      kinds: [...d.kinds],
      ticks: d.ticks.map((t) => ({ ...t })),
      levels: d.levels.map((l) => ({ ...l })),
      fitStages: d.fit ? d.fit.stages.filter((s) => s.curve.length > 0).map((s) => s.stage) : [],
      gateRounds: d.gateRounds.map((r) => ({ ...r })),
      ended: d.ended,
      stageRatePoints: d.charts.stageRate.data.datasets.map((x) => x.data.length),
      gateRatioPoints: d.charts.gateRatio.data.datasets.map((x) => x.data.length),
      stageCharts: Object.fromEntries(
        Object.entries(d.charts.stages).map(([k, c]) => [k, c.data.datasets.map((x) => x.data.length)]),
      ),
      visible,
      status: document.getElementById('status')!.textContent,
      stageRows: [...document.querySelectorAll('#stages tbody tr')].map((tr) => tr.textContent),
      gateRows: [...document.querySelectorAll('#gateFigures tbody tr')].map((tr) => tr.textContent),
    };
  });

/** Waits until the page's list `field` has `min` entries, or (min null) until `field` is set. */
const until = (page: Page, field: string, min: number | null) =>
  page.waitForFunction(
    (a: { field: string; min: number | null }) => {
      const v = (window as unknown as { headroomDashboard: Record<string, unknown[] | null> })
        .headroomDashboard[a.field];
      return a.min === null ? v !== null : (v?.length ?? 0) >= a.min;
    },
    { field, min },
    { timeout: 170_000, polling: 100 },
  );

describe('--dashboard on demo, capacity and gate, watched in a real browser', () => {
  it('demo: each stage counts up tick by tick, its rows/s drawn, and the end says the outcome', async () => {
    // Few LLM calls in flight: 300 rows take several seconds in the AI stage, so ticks come in.
    const cmd = startCommand(['demo', '--rows', '300', '--ai-concurrency', '30', '--dashboard']);
    const url = await cmd.url;
    expect(url, cmd.io.err).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const { page, problems } = await watch(browser, url);
    await until(page, 'ticks', 2);
    const early = await state(page);
    expect(await cmd.done).toBe(ExitCode.Pass);
    await until(page, 'ended', null);
    const end = await state(page);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-demo.png'), fullPage: true });

    expect(end.kinds).toEqual(['stages', 'end']);
    expect(end.visible).toEqual(['Stages: rows handled of their total', 'Rows per second, by stage']);
    expect(end.ticks.length).toBeGreaterThan(early.ticks.length);
    for (const [i, t] of end.ticks.entries())
      if (i > 0)
        expect(t.messages + t.failed).toBeGreaterThanOrEqual(
          end.ticks[i - 1]!.messages + end.ticks[i - 1]!.failed,
        );
    const last = end.ticks.at(-1)!;
    expect(last.messages + last.failed).toBe(300);
    expect(last.inProgress).toBe(0);
    expect(end.stageRatePoints).toEqual([end.ticks.length, end.ticks.length, end.ticks.length]);
    expect(end.stageRows).toHaveLength(3);
    expect(end.status).toMatch(/^finished: \d+ messages, \d+ failed, 0 lost, 0 duplicated/);
    expect(problems).toEqual([]);
    await page.close();
  }, 200_000);

  it('capacity: the level under way, each measured point as it comes, then the fitted curves', async () => {
    const cmd = startCommand([
      'capacity',
      '--rows',
      '10000',
      '--sample-seconds',
      '20',
      '--scraping-concurrency',
      '50',
      '--ai-concurrency',
      '100',
      '--dashboard',
    ]);
    const url = await cmd.url;
    expect(url, cmd.io.err).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const { page, problems } = await watch(browser, url);
    await until(page, 'levels', 1);
    const early = await state(page);
    expect(await cmd.done).toBe(ExitCode.Pass);
    await until(page, 'ended', null);
    const end = await state(page);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-capacity.png'), fullPage: true });

    expect(end.kinds).toEqual(['level', 'end']);
    expect(end.levels.length).toBeGreaterThan(early.levels.length);
    // A 20-second sample measures ingest, write and scrape at their levels and the combined window
    // (the AI levels give way to it in so short a budget).
    expect(end.levels.map((l) => l.stage)).toEqual(expect.arrayContaining(['scrape', 'combined']));
    // Every stage measured at two levels or more has its curve, drawn beside its points.
    expect(end.fitStages).toEqual(expect.arrayContaining(['scrape']));
    for (const stage of end.fitStages) {
      const [measured, curve] = end.stageCharts[stage]!;
      expect(measured).toBe(end.levels.filter((l) => l.stage === stage).length);
      expect(curve).toBe(40);
    }
    expect(end.visible).toEqual(
      expect.arrayContaining(['Measuring', 'scrape: rows per second against rows in flight']),
    );
    expect(end.visible).not.toContain('Arrivals and requests per second');
    expect(end.status).toMatch(/^finished: 10,000 rows → /);
    // The command has stopped serving by now; the page keeps the link to the report it served.
    expect(await page.locator('#report a').getAttribute('href')).toBe('/report');
    expect(problems).toEqual([]);
    await page.close();
  }, 200_000);

  it('gate: rounds done of the total, base and head of each gated figure, intervals from the second round', async () => {
    const store = path.join(dir, 'baselines');
    const save = startCommand([
      'baseline',
      'save',
      'api-stress',
      '--suite',
      'smoke',
      '--trials',
      '2',
      '--dir',
      store,
    ]);
    expect(await save.done).toBe(ExitCode.Pass);
    const cmd = startCommand(['gate', '--suite', 'smoke', '--trials', '2', '--dir', store, '--dashboard']);
    const url = await cmd.url;
    expect(url, cmd.io.err).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const { page, problems } = await watch(browser, url);
    await until(page, 'gateRounds', 1);
    const early = await state(page);
    const code = await cmd.done;
    // Two 2-second trials decide little: pass or regression, never an error.
    expect([ExitCode.Pass, ExitCode.ThresholdsFailed]).toContain(code);
    await until(page, 'ended', null);
    const end = await state(page);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-gate.png'), fullPage: true });

    expect(end.kinds).toEqual(['gate-round', 'end']);
    expect(early.gateRounds.length).toBeGreaterThanOrEqual(1);
    expect(end.gateRounds.map((r) => `${r.scenario} ${r.round} ${r.roundsDone}`)).toEqual([
      'api-stress 1 1',
      'api-stress 2 2',
    ]);
    expect(end.gateRounds[1]!.figures).toBeGreaterThan(0);
    // A ratio point per figure per round (a figure at 0 on the base side has no ratio).
    expect(end.gateRatioPoints.length).toBeGreaterThan(0);
    expect(end.gateRatioPoints.every((n) => n <= 2)).toBe(true);
    expect(end.gateRatioPoints).toContain(2);
    expect(end.gateRows).toHaveLength(end.gateRounds[1]!.figures);
    expect(end.gateRows.every((r) => !r.includes('needs 2 trials'))).toBe(true);
    expect(end.ended!.passed).toBe(code === ExitCode.Pass);
    expect(end.status).toMatch(/^finished: /);
    expect(problems).toEqual([]);
    await page.close();
  }, 200_000);
});
