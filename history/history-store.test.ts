import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintOf } from '../baselines/host-fingerprint.js';
import { HistoryInvalidError } from '../errors.js';
import { freshPostgres } from '../pipeline/test-support/test-services.js';
import type { HistoryEntry, HistoryStore } from './history-store.js';
import { openHistoryStore } from './open-history-store.js';

const hostA = fingerprintOf({ cpuModel: 'A', cores: 2, memoryGiB: 24, os: 'linux x64', nodeMajor: 20 });
const hostB = fingerprintOf({ cpuModel: 'B', cores: 6, memoryGiB: 15, os: 'linux x64', nodeMajor: 20 });

function entry(i: number, host = hostA, p50 = 100 + i): HistoryEntry {
  return {
    measuredAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
    commit: `c${String(i).padStart(39, '0')}`,
    branch: 'main',
    host,
    scenario: 'auth',
    source: 'run',
    engine: 'open-model',
    figures: {
      'latency:login.p50': { value: p50, unit: 'ms', direction: 'lower-is-better', gate: 'latency' },
      throughput_rps: { value: 50, unit: 'rps', direction: 'higher-is-better', gate: 'throughput' },
      'server.cpu_ms_per_request': {
        value: Number.NaN,
        unit: 'ms',
        direction: 'lower-is-better',
        gate: 'resource',
      },
    },
  };
}

function contract(
  name: string,
  open: () => Promise<{
    store: HistoryStore;
    reopen: () => Promise<HistoryStore>;
    done: () => Promise<void>;
  }>,
) {
  describe(`the ${name} history store`, () => {
    let store: HistoryStore;
    let reopen: () => Promise<HistoryStore>;
    let done: () => Promise<void>;
    beforeEach(async () => {
      ({ store, reopen, done } = await open());
    });
    afterEach(async () => {
      await store.close();
      await done();
    });

    it('gives a series per scenario, figure and host, in the order measured, with its commits', async () => {
      // Recorded out of order: the series follows the time each was measured.
      for (const i of [2, 0, 1]) await store.add(entry(i));
      await store.add(entry(3, hostB, 500));
      const series = await store.series('auth', 'latency:login.p50', hostA.id);
      expect(series.map((p) => [p.value, p.commit?.slice(-1), p.branch, p.hostId])).toEqual([
        [100, '0', 'main', hostA.id],
        [101, '1', 'main', hostA.id],
        [102, '2', 'main', hostA.id],
      ]);
      expect(await store.series('auth', 'latency:login.p50', hostB.id)).toHaveLength(1);
      expect(await store.scenarios()).toEqual(['auth']);
      const hosts = await store.hosts('auth');
      expect(hosts.map((h) => [h.host, h.results])).toEqual([
        [hostA, 3],
        [hostB, 1],
      ]);
    });

    it('lists the figures with their direction and gate, leaving out values that are not numbers', async () => {
      await store.add(entry(0));
      expect(await store.metrics('auth')).toEqual([
        { metric: 'latency:login.p50', unit: 'ms', direction: 'lower-is-better', gate: 'latency' },
        { metric: 'throughput_rps', unit: 'rps', direction: 'higher-is-better', gate: 'throughput' },
      ]);
    });

    it('keeps what was recorded across a reopen', async () => {
      await store.add(entry(0));
      const again = await reopen();
      expect(await again.series('auth', 'throughput_rps', hostA.id)).toHaveLength(1);
      await again.close();
    });
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-history-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

contract('SQLite', async () => {
  const file = path.join(dir, `h-${Math.random().toString(36).slice(2)}.db`);
  const reopen = () => openHistoryStore(`sqlite:${file}`);
  return { store: await reopen(), reopen, done: async () => {} };
});

contract('PostgreSQL', async () => {
  const pg = await freshPostgres();
  const reopen = () => openHistoryStore(pg.url);
  return { store: await reopen(), reopen, done: pg.drop };
});

describe('a history file that cannot be used', () => {
  it('is named, with what to do, when it is not a database', async () => {
    const file = path.join(dir, 'not-a-db.db');
    await writeFile(
      file,
      'this is not SQLite, just text that is long enough to be read as a header\n'.repeat(20),
    );
    const err = await openHistoryStore(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HistoryInvalidError);
    expect((err as Error).message).toMatch(
      /not-a-db\.db is not a usable result history: it cannot be opened/,
    );
  });

  it('is refused when a newer headroom wrote it, so nothing is lost to an older schema', async () => {
    const file = path.join(dir, 'newer.db');
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.close();
    await expect(openHistoryStore(file)).rejects.toThrow(
      /schema version is 99, newer than this headroom knows \(1\)/,
    );
  });

  it("shares a PostgreSQL schema with the pipeline's tables, each with its own versions", async () => {
    const pg = await freshPostgres();
    try {
      const { openPostgresStore } = await import('../pipeline/store/postgres-store.js');
      const pipelineStore = await openPostgresStore(pg.url);
      await pipelineStore.close();
      const history = await openHistoryStore(pg.url);
      await history.add(entry(0));
      expect(await history.scenarios()).toEqual(['auth']);
      await history.close();
    } finally {
      await pg.drop();
    }
  });
});
