/**
 * Streams with `spec.transform` into a File target for the transform tests: each run goes to the
 * source's current position and returns the lines it appended.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import type { StreamConfig } from '../../src/config/stream-config.js';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { tempDir } from '../support/stream-fixtures.js';

let counter = 0;

export interface TransformCapture {
  readonly config: StreamConfig;
  readonly dir: string;
  /** Runs the stream to now and returns what this run appended, parsed. */
  events(): Promise<any[]>;
  /** What the first run (made by startTransformCapture: slot, snapshot if asked) appended. */
  readonly first: readonly any[];
  /** Dead letters the runs told their observer of (what `pgcdc serve` counts). */
  deadLettered(): number;
}

/** The native document of a File-target stream with `transform`. */
export function transformDocument(url: string, transform: unknown, options: { readonly dir: string; readonly name?: string; readonly source?: object; readonly target?: object }): string {
  return JSON.stringify(
    {
      apiVersion: 'pgcdc/v1',
      kind: 'Stream',
      metadata: { name: options.name ?? `t${process.pid}x${++counter}` },
      spec: {
        source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', ...options.source } },
        target: options.target ?? { type: 'File', file: { path: path.join(options.dir, 'events.ndjson') } },
        maxRetries: 0,
        stateDir: path.join(options.dir, 'state'),
        transform,
      },
    },
    null,
    2,
  );
}

/** A File-target stream with `transform` whose first run is done (slot made, snapshot taken if asked), so later changes are captured. */
export async function startTransformCapture(url: string, transform: unknown, source: object = {}): Promise<TransformCapture> {
  const dir = tempDir('pgcdc-transform-');
  const outFile = path.join(dir, 'events.ndjson');
  const config = await parseStreamConfig(transformDocument(url, transform, { dir, source }), { fileName: path.join(dir, 'stream.yaml'), cwd: dir });
  let offset = 0;
  let deadLettered = 0;
  const observer = { deadLettered: (count: number) => void (deadLettered += count) };
  const events = async (): Promise<any[]> => {
    await runStream(config, { logger: silentLogger(), stopAt: 'now', observer });
    if (!fs.existsSync(outFile)) return [];
    const all = fs.readFileSync(outFile);
    const added = all.subarray(offset).toString('utf8');
    offset = all.length;
    return added
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line));
  };
  const first = await events();
  return { config, dir, events, first, deadLettered: () => deadLettered };
}
