import { createServer } from 'node:http';
import { listenSimulator } from '../../pipeline/sim/simulator-server.js';
import { type RunningTarget, startKnownAnswerTarget } from './known-answer-target.js';
import type { TargetMessage, TargetSpec } from './target-process.js';

/** The cheapest answer node:http can give: the plain endpoint of the engine bench. */
async function startPlainTarget(): Promise<RunningTarget> {
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.end('ok');
  });
  const listening = await listenSimulator(server, { host: '127.0.0.1', port: 0 });
  return {
    url: listening.origin,
    get requests() {
      return requests;
    },
    startClock() {},
    close: listening.close,
  };
}

const spec = JSON.parse(process.argv[2] ?? '{}') as TargetSpec;
const target = spec.kind === 'known-answer' ? await startKnownAnswerTarget(spec) : await startPlainTarget();
process.on('message', (message: TargetMessage) => {
  if (message.startClockAtEpochMs !== undefined) target.startClock(message.startClockAtEpochMs);
});
// The parent going away (or closing the channel) ends the target.
process.on('disconnect', () => {
  void target.close().finally(() => process.exit(0));
});
process.send?.({ url: target.url });
