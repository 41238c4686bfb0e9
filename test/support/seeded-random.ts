/**
 * Seeded randomness for randomized tests: the seed comes from PGCDC_TEST_SEED when set (to replay
 * a failure) or is drawn at random, and goes into every failure message so that it can be.
 */

/** A generator of numbers in [0, 1) from a 32-bit seed (mulberry32). */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: PGCDC_TEST_SEED, or a random one. */
export function testSeed(): number {
  const given = process.env.PGCDC_TEST_SEED;
  return given ? Number(given) >>> 0 : Math.floor(Math.random() * 2 ** 32);
}

/** An integer in [0, n). */
export function below(random: Random, n: number): number {
  return Math.floor(random() * n);
}

/**
 * The seed of this test file's shared generator (each test file runs in its own module scope);
 * `test/support/seed-report.ts` prints it when a test of the file fails.
 */
export const FILE_SEED = testSeed();

/** The test file's shared seeded generator, for workloads that need no seed of their own. */
export const testRandom: Random = seededRandom(FILE_SEED);

/** How to replay a randomized test, for its failure messages. */
export function replayHint(seed: number): string {
  return `replay with PGCDC_TEST_SEED=${seed}`;
}
