import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RunningTarget, startKnownAnswerTarget } from './known-answer-target.js';
import type { TargetMessage, TargetSpec } from './target-process.js';

/** The cheapest answer node:http can give: the plain endpoint of the engine bench. */
async function startPlainTarget(): Promise<RunningTarget> {
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.end('ok');
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return requests;
    },
    startClock() {},
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
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
