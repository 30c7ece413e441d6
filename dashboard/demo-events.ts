import type { DemoResult, DemoTick } from '../pipeline/demo.js';
import type { DashboardEvent } from './dashboard-server.js';

/** A demo run's stages once a second: each stage's rows done of its total, and its rate. */
export interface StagesEvent {
  type: 'stages';
  tick: DemoTick;
}

/** The event of one tick of `runDemo`. */
export function stagesEvent(tick: DemoTick): DashboardEvent {
  return { type: 'stages', tick };
}

/** The closing event of a demo: its outcome in a line; the demo writes no HTML report. */
export function demoEndEvent(result: DemoResult): DashboardEvent {
  const passed = result.lost === 0 && result.duplicated === 0 && result.unfinished === 0 && !result.timedOut;
  return {
    type: 'end',
    passed,
    verdicts: [],
    report: false,
    summary:
      `${result.messages} messages, ${result.failed} failed, ${result.lost} lost, ${result.duplicated} duplicated` +
      (result.timedOut ? `, cut by its time bound with ${result.unfinished} unfinished` : '') +
      ` in ${(result.durationMs / 1000).toFixed(1)} s`,
  };
}
