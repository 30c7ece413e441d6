import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostProfileInvalidError } from '../errors.js';
import { currentHostProfile, loadHostProfile, parseHostProfile } from './host-profile.js';

const valid = { kind: 'headroom.host-profile', version: 1, name: 'box', cores: 6, memoryBytes: 16106127360 };

describe('host profiles', () => {
  it('loads the bundled i5-8500 profile by name: 6 cores and 15 GiB', async () => {
    const profile = await loadHostProfile('i5-8500');
    expect(profile.cores).toBe(6);
    expect(profile.memoryBytes).toBe(15 * 1024 ** 3);
    expect(profile.cpuModel).toContain('i5-8500');
  });

  it('names the field and the rule of a bad profile', () => {
    const bad = { ...valid, cores: 0, memoryBytes: '15GB', colour: 'red' };
    try {
      parseHostProfile(bad, 'box.json');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HostProfileInvalidError);
      const message = (err as Error).message;
      expect(message).toContain('box.json is not a valid host profile');
      expect(message).toContain('/cores: must be >= 1 (got 0)');
      expect(message).toContain('/memoryBytes: must be integer (got "15GB")');
      expect(message).toContain('unknown field "colour"');
      expect((err as HostProfileInvalidError).code).toBe('HRM_HOST_PROFILE_INVALID');
    }
  });

  it('refuses reserved memory that leaves nothing for the pipeline', () => {
    expect(() => parseHostProfile({ ...valid, reservedMemoryBytes: valid.memoryBytes }, 'x')).toThrow(
      /reservedMemoryBytes: must be less than memoryBytes/,
    );
  });

  it('says a file that is not JSON is not JSON', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'headroom-profile-'));
    const file = path.join(dir, 'p.json');
    await writeFile(file, '{ cores: 6 ');
    await expect(loadHostProfile(file)).rejects.toThrow(/is not JSON/);
  });

  it('says how to name a profile that does not exist', async () => {
    await expect(loadHostProfile('no-such-box')).rejects.toThrow(/ENOENT.*i5-8500/);
  });

  it('describes this machine from systeminformation', async () => {
    const profile = parseHostProfile(await currentHostProfile(), 'this host');
    expect(profile.cores).toBeGreaterThanOrEqual(1);
    expect(profile.memoryBytes).toBeGreaterThan(64 * 1024 ** 2);
  });
});
