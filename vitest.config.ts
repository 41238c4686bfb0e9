import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Prints the seed of randomized workloads when a test fails (PGCDC_TEST_SEED replays it).
    setupFiles: ['test/support/seed-report.ts'],
    pool: 'forks',
    // isolated-vm (the PgLambda sandbox) needs Node.js 20 to start without its startup snapshot.
    execArgv: ['--no-node-snapshot'],
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
