/**
 * The connections `pgcdc verify` compares with: up to N pairs of one source and one target
 * connection, opened on first use and lent out one job at a time; target failures are worded as
 * the target's. Also runs a list of jobs a few at a time.
 */
import type { ConnectionConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { CatalogConnection } from '../source/catalog-connection.js';

/** One side of the comparison: a connection whose failures say which side failed. */
export class VerifySide {
  readonly role: 'source' | 'target';
  readonly connection: CatalogConnection;

  constructor(role: 'source' | 'target', connection: CatalogConnection) {
    this.role = role;
    this.connection = connection;
  }

  /** Opens a connection to `config`, failing with a PgcdcError naming the side. */
  static async open(role: 'source' | 'target', config: ConnectionConfig): Promise<VerifySide> {
    try {
      return new VerifySide(role, await CatalogConnection.open(config));
    } catch (error) {
      throw role === 'target' ? rewordedForTarget(error) : error;
    }
  }

  async query<Row extends Record<string, any> = any>(text: string, params: unknown[] = []): Promise<Row[]> {
    try {
      return (await this.connection.query<Row>(text, params)).rows;
    } catch (error) {
      throw this.role === 'target' ? rewordedForTarget(error) : error;
    }
  }
}

/** A source and a target connection used by one job at a time. */
export interface SidePair {
  readonly source: VerifySide;
  readonly target: VerifySide;
}

/**
 * The catalog connection's errors speak of "the source"; this rewords one from the target
 * (`target: …`, the fix naming the target). The code is kept, except that an unreachable server
 * is TARGET_UNREACHABLE.
 */
function rewordedForTarget(error: unknown): unknown {
  if (!(error instanceof PgcdcError)) return error;
  const hint = error.hint?.replace(/\bsource\b/g, 'target');
  const code = error.code === 'SOURCE_UNREACHABLE' ? 'TARGET_UNREACHABLE' : error.code;
  return new PgcdcError(code, `target: ${error.message}`, { cause: error, ...(hint === undefined ? {} : { hint }) });
}

/** Up to `size` connection pairs, opened when first needed. */
export class ConnectionPairs {
  readonly #source: ConnectionConfig;
  readonly #target: ConnectionConfig;
  readonly #size: number;
  readonly #idle: SidePair[] = [];
  readonly #all: SidePair[] = [];
  readonly #waiting: ((pair: SidePair | undefined) => void)[] = [];
  #opening = 0;
  #failure: { error: unknown } | undefined;

  constructor(source: ConnectionConfig, target: ConnectionConfig, size: number) {
    this.#source = source;
    this.#target = target;
    this.#size = Math.max(1, size);
  }

  /**
   * Runs `job` with a pair of its own; waits for one when all are lent out. Once a job failed, the
   * next ones fail at once with the same error (the verification has failed: stop soon).
   */
  async use<T>(job: (pair: SidePair) => Promise<T>): Promise<T> {
    this.#throwIfFailed();
    const pair = await this.#acquire();
    try {
      this.#throwIfFailed();
      return await job(pair);
    } catch (error) {
      this.#failure ??= { error };
      throw error;
    } finally {
      const next = this.#waiting.shift();
      if (next) next(pair);
      else this.#idle.push(pair);
    }
  }

  async close(): Promise<void> {
    const pairs = this.#all.splice(0);
    this.#idle.length = 0;
    await Promise.all(pairs.flatMap((pair) => [pair.source.connection.close(), pair.target.connection.close()]));
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }

  async #acquire(): Promise<SidePair> {
    for (;;) {
      const idle = this.#idle.pop();
      if (idle) return idle;
      if (this.#all.length + this.#opening < this.#size) return this.#open();
      // A released pair, or undefined when an opening failed: then try opening one ourselves.
      const handed = await new Promise<SidePair | undefined>((resolve) => this.#waiting.push(resolve));
      if (handed) return handed;
    }
  }

  async #open(): Promise<SidePair> {
    this.#opening++;
    try {
      const source = await VerifySide.open('source', this.#source);
      try {
        const pair = { source, target: await VerifySide.open('target', this.#target) };
        this.#all.push(pair);
        return pair;
      } catch (error) {
        await source.connection.close();
        throw error;
      }
    } catch (error) {
      this.#failure ??= { error };
      this.#waiting.shift()?.(undefined);
      throw error;
    } finally {
      this.#opening--;
    }
  }
}

/**
 * Runs `job` on every item with at most `concurrency` at once and returns the results in the
 * items' order. After a failure no new job starts; the first failure is thrown once the running
 * jobs ended.
 */
export async function mapConcurrent<T, R>(items: readonly T[], concurrency: number, job: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await job(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}
