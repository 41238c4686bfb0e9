/**
 * Vitest setup file: prints the seed of the file's shared generator when a test fails, so a
 * randomized failure can be replayed (`PGCDC_TEST_SEED=<seed> npx vitest run <file>`).
 */
import { beforeEach, onTestFailed } from 'vitest';
import { FILE_SEED, replayHint } from './seeded-random.js';

beforeEach(() => {
  onTestFailed(({ task }) => {
    console.error(`${task.name}: randomized parts used seed ${FILE_SEED}; ${replayHint(FILE_SEED)}`);
  });
});
