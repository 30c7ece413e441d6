/**
 * Entry of the simulator child process (see `spawnSimulators`): starts both simulators with the
 * options given as its first argument (JSON), reports their addresses over IPC, answers usage
 * requests, and exits when asked to or when its parent goes away.
 */
import { ConfigInvalidError } from '../../errors.js';
import {
  type RunningSimulators,
  type SimulatorReply,
  type SimulatorRequest,
  type SimulatorsOptions,
  startSimulators,
} from './simulator-process.js';

function send(reply: SimulatorReply): void {
  if (process.connected) process.send!(reply);
}

let simulators: RunningSimulators | undefined;
let stopping = false;

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await simulators?.close();
  process.exit(0);
}

process.on('message', (request: SimulatorRequest) => {
  if (request.type === 'close') {
    void stop();
  } else if (request.type === 'usage' && simulators) {
    void simulators.usage().then((usage) => send({ type: 'usage', id: request.id, usage }));
  }
});
// An orphan must not keep ports open: the parent crashed or was killed.
process.on('disconnect', () => void stop());

try {
  const opts = JSON.parse(process.argv[2] ?? '{}') as SimulatorsOptions;
  simulators = await startSimulators(opts);
  send({ type: 'ready', addresses: { siteFarm: simulators.siteFarm, llm: simulators.llm } });
} catch (err) {
  stopping = true;
  process.exitCode = 1;
  const reply: SimulatorReply =
    err instanceof ConfigInvalidError
      ? { type: 'failed', message: err.message, config: { source: err.source, problems: err.problems } }
      : { type: 'failed', message: err instanceof Error ? err.message : String(err) };
  // Disconnect only once the reply is written, or the parent would see a bare exit.
  if (process.connected) process.send!(reply, () => process.disconnect());
}
