/**
 * Spinning (setImmediate turns) for the last stretch before a due time gives sub-millisecond
 * precision, where a timer alone is late by ~0.8 ms on average (libuv timers have 1 ms
 * resolution). Each spinning turn still polls I/O, so responses are not delayed by it.
 */
const SPIN_WINDOW_MS = 1;
/**
 * Spinning burns CPU the system under test may need (on a 2-core machine it shares the cores),
 * so by default it is capped at this share of wall time per second; past the cap, waits fall
 * back to 1 ms timers and arrivals are late by up to about a millisecond (visible as schedule lag).
 */
const DEFAULT_SPIN_SHARE = 0.25;
const SPIN_ACCOUNTING_WINDOW_MS = 1_000;

/**
 * Calls `tick` at (or just after) the earliest time asked for, without a timer per request:
 * one pending wake at a time, moved earlier when an earlier time is asked for.
 */
export class WakeTimer {
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private armedForMs = Number.POSITIVE_INFINITY;
  private spinStartedAtMs: number | undefined;
  private windowStartMs = 0;
  private spunMs = 0;
  private stopped = false;

  /** `spinShare`: the most of each second spent spinning (0 never spins, 1 always may). */
  constructor(
    private readonly tick: () => void,
    private readonly spinShare = DEFAULT_SPIN_SHARE,
  ) {}

  /**
   * Makes sure `tick` runs no later than about `dueAtMs` (performance.now() time); `Infinity` is
   * a no-op. `spin: false` when the caller expects other events (e.g. responses arriving every
   * few microseconds) to call `tick` in time anyway: the wake is then only a backstop timer, and
   * no event-loop turns are spent waiting for the due time.
   */
  wakeAt(dueAtMs: number, nowMs: number, spin = true): void {
    if (this.stopped || dueAtMs >= this.armedForMs) return;
    this.cancel();
    this.armedForMs = dueAtMs;
    const waitMs = dueAtMs - nowMs;
    if (waitMs <= 0) {
      this.immediate = setImmediate(this.fire);
    } else if (!spin) {
      this.timer = setTimeout(this.fire, Math.max(1, Math.floor(waitMs)));
    } else if (waitMs <= SPIN_WINDOW_MS && this.maySpin(nowMs)) {
      this.spinStartedAtMs = nowMs;
      this.immediate = setImmediate(this.fire);
    } else {
      // Aimed a window early: a timer may fire up to ~1 ms either side of its time, and the
      // remainder is spun (or slept with a 1 ms timer once the spin budget is spent).
      this.timer = setTimeout(this.fire, Math.max(1, Math.floor(waitMs - SPIN_WINDOW_MS)));
    }
  }

  /** Runs `tick` on the next turn of the event loop (the caller has more due work than one turn should do). */
  wakeSoon(): void {
    if (this.stopped || this.immediate) return;
    this.cancel();
    this.armedForMs = Number.NEGATIVE_INFINITY;
    this.immediate = setImmediate(this.fire);
  }

  /** Cancels any pending wake for good. */
  stop(): void {
    this.stopped = true;
    this.cancel();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.immediate = undefined;
    this.armedForMs = Number.POSITIVE_INFINITY;
    if (this.spinStartedAtMs !== undefined) {
      this.spunMs += performance.now() - this.spinStartedAtMs;
      this.spinStartedAtMs = undefined;
    }
    this.tick();
  };

  private maySpin(nowMs: number): boolean {
    if (nowMs - this.windowStartMs >= SPIN_ACCOUNTING_WINDOW_MS) {
      this.windowStartMs = nowMs;
      this.spunMs = 0;
    }
    return this.spunMs < this.spinShare * SPIN_ACCOUNTING_WINDOW_MS;
  }

  private cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.spinStartedAtMs = undefined;
    this.armedForMs = Number.POSITIVE_INFINITY;
  }
}
