import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { WakeTimer } from './wake-timer.js';

function fakeTimers(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] });
  onTestFinished(() => {
    vi.useRealTimers();
  });
}

describe('WakeTimer', () => {
  it('with spinning off, waits on a 1 ms timer for a wake due within the spin window, where spinning runs on the next turn', () => {
    fakeTimers();
    const calls = { spinning: 0, notSpinning: 0 };
    const spinning = new WakeTimer(() => calls.spinning++);
    const notSpinning = new WakeTimer(() => calls.notSpinning++);
    const nowMs = performance.now();
    spinning.wakeAt(nowMs + 0.3, nowMs);
    notSpinning.wakeAt(nowMs + 0.3, nowMs, false);

    vi.advanceTimersByTime(0);
    expect(calls).toEqual({ spinning: 1, notSpinning: 0 });
    vi.advanceTimersByTime(1);
    expect(calls).toEqual({ spinning: 1, notSpinning: 1 });
  });

  it('keeps only the earlier of two wakes asked for', () => {
    fakeTimers();
    let calls = 0;
    const timer = new WakeTimer(() => calls++);
    const nowMs = performance.now();
    timer.wakeAt(nowMs + 50, nowMs, false);
    timer.wakeAt(nowMs + 5, nowMs, false);

    vi.advanceTimersByTime(4);
    expect(calls).toBe(0);
    vi.advanceTimersByTime(1);
    expect(calls).toBe(1);
    vi.advanceTimersByTime(100);
    expect(calls).toBe(1);
  });
});
