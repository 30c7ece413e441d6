import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    // Tests start real servers and child processes on a shared 2-core machine: be patient, never timed.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
