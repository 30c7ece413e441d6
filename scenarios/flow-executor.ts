import type { Client, Dispatcher } from 'undici';
import { describeHost } from '../results/host-description.js';
import type { RunResult, ScheduleAccuracy } from '../results/run-result.js';
import { ConnectionSet, type ConnectionUser } from './connection-set.js';
import { classifyError, classifyStatus } from './error-class.js';
import { CompiledStep, type FlowStep } from './flow-step.js';
import { type RunProgress, RunRecorder } from './run-recorder.js';
import { WakeTimer } from './wake-timer.js';

/**
 * Most iterations started or resumed in one event-loop turn. Past it the rest wait for the next
 * turn (setImmediate), so responses keep being read while the generator catches up.
 */
const MAX_STARTS_PER_TURN = 256;
/**
 * When the model starts iterations closer together than this, the wake timer does not spin
 * toward each one: the iterations due start together on the next timer, each late by under a
 * millisecond or so (counted in its latency and in the schedule lag, as any lateness is).
 * Spinning there bought little on a plain endpoint at 36,000 req/s: a mean lag of 0.68–0.72 ms
 * against 0.79–0.83 ms without (medians of two sets of 5 interleaved runs on a shared 2-core
 * machine), for 14.7–14.9 against 12.9–13.0 µs of generator CPU per request (an event-loop turn
 * and an epoll call per request, and a wake-up of the target for each one instead of one per
 * batch): CPU that on a shared machine the target and the generator both need.
 */
const DENSE_ARRIVALS_MS = 1;

/** What decides when iterations start: an arrival schedule (open model) or virtual users (closed). */
export interface LoadModel {
  /** Starts the iterations due at `nowMs`, at most `budget` of them; returns how many it started. */
  tick(nowMs: number, budget: number): number;
  /** When the model next needs a tick (performance.now() time; Infinity when only an ending iteration can wake it). */
  nextDueMs(): number;
  /** True once the model will start no more iterations. */
  readonly finished: boolean;
  /** When the load was planned to end (performance.now() time); the graceful stop counts from it. */
  readonly plannedEndMs: number;
  /** Time between the last two scheduled starts, when the model has a schedule (open model). */
  arrivalIntervalMs?(): number;
  /** Called when an iteration ends, e.g. to start the virtual user's next one. */
  onIterationEnd?(iteration: Iteration, nowMs: number): void;
}

/** Settings of a run that do not depend on the load model. */
export interface FlowExecutorOptions {
  engine: 'open-model' | 'closed-model';
  target: string;
  flow: readonly FlowStep[];
  timeoutMs: number;
  gracefulStopMs: number;
  maxRequests: number;
  connections: number;
  signal: AbortSignal | undefined;
  onProgress: ((progress: RunProgress) => void) | undefined;
  varsFor?: ((iteration: number) => Record<string, string>) | undefined;
  scenario: RunResult['scenario'];
}

/**
 * One pass through the flow, and the undici handler of its current request. The handler uses
 * undici's original callbacks (onConnect/onHeaders/onData/onComplete/onError): undici calls them
 * directly, where the newer controller API wraps every request in an adapter that also parses
 * the response headers into an object, work a load generator does not need.
 */
export class Iteration implements ConnectionUser {
  connection: Client | undefined;
  stepIndex = 0;
  /** When the current step was meant to go out; latency counts from here. */
  intendedAtMs = 0;
  /** When the current request was handed to undici. */
  sentAtMs = 0;
  /** When the current request got its connection and was written; service time counts from here. */
  writtenAtMs = 0;
  statusCode = 0;
  vars: Record<string, string> | undefined;
  private chunks: Buffer[] | undefined;

  constructor(private readonly executor: FlowExecutor) {}

  /** Resets per-request state before the current step is sent. */
  prepare(sentAtMs: number, readsBody: boolean): void {
    this.sentAtMs = sentAtMs;
    this.writtenAtMs = 0;
    this.statusCode = 0;
    this.chunks = readsBody ? [] : undefined;
  }

  /** The body of the last response, when the step reads it. */
  bodyText(): string {
    return this.chunks ? Buffer.concat(this.chunks).toString('utf8') : '';
  }

  onConnect(): void {
    this.writtenAtMs = performance.now();
  }

  onHeaders(statusCode: number): boolean {
    this.statusCode = statusCode;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks?.push(chunk);
    return true;
  }

  onComplete(): void {
    this.executor.completeStep(this);
  }

  onError(err: Error): void {
    this.executor.failStep(this, err);
  }
}

/** Iterations waiting out a think time before one step, in due order (same think time, FIFO). */
class WaitingLine {
  private items: (Iteration | undefined)[] = [];
  private head = 0;

  push(iteration: Iteration): void {
    this.items.push(iteration);
  }

  peek(): Iteration | undefined {
    return this.items[this.head];
  }

  shift(): Iteration | undefined {
    const item = this.items[this.head];
    if (item === undefined) return undefined;
    this.items[this.head++] = undefined;
    if (this.head > 1_024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  drain(): number {
    const count = this.items.length - this.head;
    this.items = [];
    this.head = 0;
    return count;
  }
}

/**
 * Runs iterations of a flow against a target over keep-alive connections, and records what
 * happens. The load model decides when iterations start; the executor sends each step, waits out
 * think times, and stops the run: when the model is finished and every iteration has ended, or
 * when the graceful stop is over (in-flight requests are then cut and counted as interrupted),
 * or when the signal aborts.
 */
export class FlowExecutor {
  readonly steps: CompiledStep[];
  readonly recorder: RunRecorder;
  readonly startMs: number;
  private readonly connections: ConnectionSet;
  private readonly requests: (Dispatcher.DispatchOptions | undefined)[];
  private readonly waiting: WaitingLine[];
  private readonly wake: WakeTimer;
  private model: LoadModel | undefined;
  private active = 0;
  private sent = 0;
  private draining = false;
  private interrupting = false;
  private finishing = false;
  private closed = false;
  private secondTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private settle: (() => void) | undefined;
  private endMs = 0;
  /** Ended iterations kept for reuse when the model does not reuse them itself (open model). */
  private readonly spare: Iteration[] = [];

  /** Iterations started so far: the number handed to `varsFor`. */
  private iterationsStarted = 0;

  constructor(private readonly options: FlowExecutorOptions) {
    const url = new URL(options.target);
    const basePath = url.pathname.replace(/\/+$/, '');
    this.steps = options.flow.map((step) => new CompiledStep(step, basePath));
    this.connections = new ConnectionSet(url.origin, {
      maxConnections: options.connections,
      connectTimeoutMs: options.timeoutMs,
    });
    this.requests = this.steps.map((step) =>
      step.isConstant
        ? {
            path: step.pathFor({}),
            method: step.method,
            headers: step.headersFor({}),
            body: step.bodyFor({}),
            headersTimeout: options.timeoutMs,
            bodyTimeout: options.timeoutMs,
          }
        : undefined,
    );
    this.waiting = this.steps.map(() => new WaitingLine());
    this.wake = new WakeTimer(() => this.tick());
    this.startMs = performance.now();
    this.recorder = new RunRecorder(
      this.steps.map((s) => s.name),
      this.startMs,
      () => this.active,
      options.onProgress,
    );
  }

  /** Iterations started and not yet ended (including those waiting out a think time). */
  get inFlight(): number {
    return this.active;
  }

  /** True once `maxRequests` requests have been sent. */
  get exhausted(): boolean {
    return this.sent >= this.options.maxRequests;
  }

  /** When the run ended (performance.now() time); 0 while it runs. */
  get endedAtMs(): number {
    return this.endMs;
  }

  /** Runs the load model to its end; resolves once every request has finished or been cut. */
  async run(model: LoadModel): Promise<void> {
    this.model = model;
    const { signal } = this.options;
    const onAbort = () => this.beginInterrupt();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const done = new Promise<void>((resolve) => {
        this.settle = resolve;
      });
      if (signal?.aborted) this.beginInterrupt();
      else {
        this.armSecondTimer();
        this.tick();
      }
      await done;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Starts an iteration whose first step is meant to go out at `intendedAtMs`. */
  startIteration(intendedAtMs: number, reuse?: Iteration): void {
    const iteration = reuse ?? this.spare.pop() ?? new Iteration(this);
    iteration.stepIndex = 0;
    iteration.vars = this.options.varsFor ? { ...this.options.varsFor(this.iterationsStarted) } : undefined;
    this.iterationsStarted++;
    iteration.intendedAtMs = intendedAtMs;
    this.active++;
    const nowMs = performance.now();
    if (intendedAtMs > nowMs) this.enqueue(iteration, nowMs);
    else this.sendStep(iteration, nowMs);
  }

  /** Called by an iteration when its response has been read in full. */
  completeStep(iteration: Iteration): void {
    this.connections.release(iteration);
    if (this.closed) return;
    const nowMs = performance.now();
    const index = iteration.stepIndex;
    const step = this.steps[index]!;
    const errorClass = classifyStatus(iteration.statusCode);
    this.recorder.recordResponse(
      index,
      nowMs,
      nowMs - iteration.intendedAtMs,
      nowMs - (iteration.writtenAtMs || iteration.sentAtMs),
      errorClass,
    );
    if (errorClass) {
      this.endIteration(iteration, nowMs);
      return;
    }
    if (step.readsBody) {
      iteration.vars ??= {};
      if (step.capture(iteration.bodyText(), iteration.vars) !== undefined) {
        this.recorder.recordFailure(index, nowMs, 'capture_missing', false);
        this.endIteration(iteration, nowMs);
        return;
      }
    }
    if (index + 1 >= this.steps.length) {
      this.endIteration(iteration, nowMs);
      return;
    }
    iteration.stepIndex = index + 1;
    // The next step is meant to go out when the think time after this response is over.
    iteration.intendedAtMs = nowMs + step.thinkMs;
    if (step.thinkMs > 0) this.enqueue(iteration, nowMs);
    else this.sendStep(iteration, nowMs);
  }

  /** Called by an iteration when its request failed without a usable response. */
  failStep(iteration: Iteration, err: Error): void {
    this.connections.release(iteration);
    if (this.closed) return;
    const nowMs = performance.now();
    if (this.interrupting) this.recorder.recordFailure(iteration.stepIndex, nowMs, 'interrupted', false);
    else this.recorder.recordFailure(iteration.stepIndex, nowMs, classifyError(err));
    this.endIteration(iteration, nowMs);
  }

  /** Builds the run's result; call after `run()` has resolved. */
  result(schedule?: ScheduleAccuracy): RunResult {
    return {
      kind: 'headroom.run-result',
      version: 1,
      createdAt: new Date().toISOString(),
      host: describeHost(),
      scenario: this.options.scenario,
      target: this.options.target,
      engine: this.options.engine,
      durationMs: Math.round((this.endMs - this.startMs) * 1_000) / 1_000,
      steps: this.recorder.stepResults(),
      timeSeries: this.recorder.timeSeries,
      ...(schedule ? { schedule } : {}),
      serverSamples: [],
    };
  }

  private sendStep(iteration: Iteration, nowMs: number): void {
    if (this.interrupting || this.sent >= this.options.maxRequests) {
      this.endIteration(iteration, nowMs);
      return;
    }
    this.sent++;
    const index = iteration.stepIndex;
    const step = this.steps[index]!;
    const sentAtMs = performance.now();
    iteration.prepare(sentAtMs, step.readsBody);
    this.recorder.recordSent(index, sentAtMs - iteration.intendedAtMs);
    this.connections.dispatch(this.requests[index] ?? this.requestFor(step, iteration), iteration);
  }

  private requestFor(step: CompiledStep, iteration: Iteration): Dispatcher.DispatchOptions {
    const vars = iteration.vars ?? {};
    return {
      path: step.pathFor(vars),
      method: step.method,
      headers: step.headersFor(vars),
      body: step.bodyFor(vars),
      headersTimeout: this.options.timeoutMs,
      bodyTimeout: this.options.timeoutMs,
    };
  }

  private enqueue(iteration: Iteration, nowMs: number): void {
    this.waiting[iteration.stepIndex]!.push(iteration);
    this.wakeAt(iteration.intendedAtMs, nowMs);
  }

  private wakeAt(dueMs: number, nowMs: number): void {
    const dense = (this.model?.arrivalIntervalMs?.() ?? Number.POSITIVE_INFINITY) < DENSE_ARRIVALS_MS;
    this.wake.wakeAt(dueMs, nowMs, !dense);
  }

  private endIteration(iteration: Iteration, nowMs: number): void {
    this.active--;
    if (!this.draining && !this.interrupting) {
      this.model?.onIterationEnd?.(iteration, nowMs);
      // The model may have just finished with no tick pending to notice it.
      if (this.model?.finished || this.exhausted) this.wake.wakeSoon();
      else if (!this.model?.onIterationEnd) this.spare.push(iteration);
    }
    // Not from inside undici's callback: finishing destroys the connections.
    if (this.draining && this.active === 0) setImmediate(() => void this.finish());
  }

  private tick(): void {
    if (this.closed || this.interrupting || !this.model) return;
    const nowMs = performance.now();
    let budget = MAX_STARTS_PER_TURN;
    if (!this.draining) budget -= this.model.tick(nowMs, budget);
    for (const line of this.waiting) {
      for (let next = line.peek(); next && next.intendedAtMs <= nowMs && budget > 0; next = line.peek()) {
        line.shift();
        budget--;
        // A virtual user thinking before its next iteration does not start one once the model is done.
        if (next.stepIndex === 0 && this.model.finished) this.endIteration(next, nowMs);
        else this.sendStep(next, nowMs);
      }
    }
    if (this.closed || this.interrupting) return;
    if (!this.draining && (this.model.finished || this.exhausted)) this.beginDrain(nowMs);
    if (this.draining && this.active === 0) {
      void this.finish();
      return;
    }
    if (budget <= 0) {
      this.wake.wakeSoon();
      return;
    }
    let dueMs = this.draining ? Number.POSITIVE_INFINITY : this.model.nextDueMs();
    for (const line of this.waiting) {
      const head = line.peek();
      if (head && head.intendedAtMs < dueMs) dueMs = head.intendedAtMs;
    }
    if (dueMs < Number.POSITIVE_INFINITY) this.wakeAt(dueMs, nowMs);
  }

  private beginDrain(nowMs: number): void {
    this.draining = true;
    // Virtual users thinking before their next iteration will not start one.
    this.active -= this.waiting[0]!.drain();
    const plannedEndMs = this.model?.plannedEndMs ?? nowMs;
    const deadlineMs =
      (Number.isFinite(plannedEndMs) ? Math.max(nowMs, plannedEndMs) : nowMs) + this.options.gracefulStopMs;
    this.deadlineTimer = setTimeout(() => this.beginInterrupt(), Math.max(0, deadlineMs - nowMs));
  }

  /** Stops everything now: waiting iterations end, in-flight requests are cut and counted as interrupted. */
  private beginInterrupt(): void {
    if (this.interrupting || this.closed) return;
    this.interrupting = true;
    this.wake.stop();
    for (const line of this.waiting) this.active -= line.drain();
    void this.finish();
  }

  private async finish(): Promise<void> {
    if (this.finishing) return;
    this.finishing = true;
    this.wake.stop();
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.secondTimer);
    this.endMs = performance.now();
    // destroy() fails every request still in flight; failStep counts them as interrupted.
    this.interrupting = true;
    await this.connections.destroy();
    this.closed = true;
    this.active = 0;
    this.recorder.finish(performance.now());
    this.settle?.();
  }

  private armSecondTimer(): void {
    const nowMs = performance.now();
    this.secondTimer = setTimeout(
      () => {
        this.recorder.rollSeconds(performance.now());
        if (!this.closed) this.armSecondTimer();
      },
      Math.ceil(this.recorder.msToNextSecond(nowMs)) + 1,
    );
  }
}
