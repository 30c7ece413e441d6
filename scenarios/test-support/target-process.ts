import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { forkModule } from '../../pipeline/child-module.js';
import type { KnownAnswerTargetOptions } from './known-answer-target.js';

/** Which target a child process serves. */
export type TargetSpec = { kind: 'plain' } | ({ kind: 'known-answer' } & KnownAnswerTargetOptions);

/** Parent-to-child messages. */
export interface TargetMessage {
  startClockAtEpochMs?: number;
}

/** A target in its own process, so that its work does not share the load generator's event loop. */
export interface TargetProcess {
  url: string;
  readonly child: ChildProcess;
  /** Starts the known-answer target's clock at this moment (a no-op for the plain target). */
  startClock(): void;
  close(): Promise<void>;
}

/** Starts a test target in a child process on 127.0.0.1 and waits until it listens. */
export async function spawnTarget(spec: TargetSpec): Promise<TargetProcess> {
  const child = forkModule(new URL('./target-child.js', import.meta.url), [JSON.stringify(spec)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [message] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`the target process exited with code ${String(code)} before listening`);
    }),
  ])) as [{ url: string }];
  return {
    url: message.url,
    child,
    startClock() {
      // An absolute time both processes read from the same clock: no message latency in it.
      const message: TargetMessage = { startClockAtEpochMs: performance.timeOrigin + performance.now() };
      child.send(message);
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
