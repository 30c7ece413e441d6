import { describe, expect, it } from 'vitest';
import { describeHost } from '../results/host-description.js';
import { fingerprintFromDescription, fingerprintOf, hostFingerprint, sameHost } from './host-fingerprint.js';

describe('host fingerprint', () => {
  it('describes this machine and gives it a stable id', async () => {
    const a = await hostFingerprint();
    const b = await hostFingerprint();
    expect(a).toEqual(b);
    expect(a.id).toMatch(/^host-[0-9a-f]{12}$/);
    expect(a.cores).toBeGreaterThanOrEqual(1);
    expect(a.memoryGiB).toBeGreaterThan(0);
    expect(a.nodeMajor).toBe(Number(process.versions.node.split('.')[0]));
  });

  it('gives the same id to the same fields and another to any change', () => {
    const fields = { cpuModel: 'X', cores: 2, memoryGiB: 8, os: 'linux Debian 12 x64', nodeMajor: 20 };
    expect(fingerprintOf(fields).id).toBe(fingerprintOf({ ...fields }).id);
    for (const change of [
      { cores: 4 },
      { memoryGiB: 16 },
      { os: 'linux Debian 13 x64' },
      { nodeMajor: 22 },
      { cpuModel: 'Y' },
    ])
      expect(fingerprintOf({ ...fields, ...change }).id).not.toBe(fingerprintOf(fields).id);
  });

  it("matches a run result's host with this machine's on the fields both record", async () => {
    const fromRun = fingerprintFromDescription(describeHost());
    expect(sameHost(fromRun, await hostFingerprint(), true)).toBe(true);
  });
});
