/**
 * The directory of stream specs `pgcdc serve` runs: every `*.yaml`, `*.yml` and `*.json` file in
 * it is a stream, loaded as `pgcdc run -c FILE` loads it. The directory is the one store of
 * streams: those created through the API are written into it as `<name>.yaml`, and deleting one
 * removes its file. Added, changed (other content) and removed files are picked up without a
 * restart: fs.watch (debounced), and a rescan every 2 s for file systems where watching misses
 * events. A spec that cannot be loaded, or that takes a name another file already has, is a
 * failed stream with its error, keyed by its file name (stream names cannot hold a dot). A JSON
 * file holding a Kafka Connect connector (`{"name", "config": {…}}`, what `POST /connectors` writes
 * as `<name>.json`) is a stream too, converted by config/connector-config with the serve's brokers,
 * and so are `*.properties` (a connector, Debezium Server's) and `*.env` files (pgstream's), as
 * `run -c` reads them. A paused or stopped stream stays so across restarts (kept-target-state:
 * `<name>.state`, which the scan does not read).
 *
 * A scan never waits for a stream: stopping and starting happen in each stream's supervisor, and a
 * stream of a name still stopping starts once its predecessor has stopped.
 */
import fs from 'node:fs';
import { readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { parseStreamConfig } from '../config/load-stream-config.js';
import type { StreamConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { Logger } from '../logging/logger.js';
import type { ServeMetrics } from '../metrics/serve-metrics.js';
import { readKeptTargetState } from './kept-target-state.js';
import { HttpError } from './serve-server.js';
import { StreamSupervisor } from './stream-supervisor.js';
import { writeFileWhole } from './whole-file-write.js';

const SPEC_FILE = /^[^.].*\.(ya?ml|json|properties|env)$/i;
const RESCAN_INTERVAL_MS = 2000;
const WATCH_DEBOUNCE_MS = 100;

export interface StreamDirectoryOptions {
  readonly dir: string;
  readonly logger: Logger;
  readonly metrics: ServeMetrics;
  /** As `pgcdc run --secrets-dir / --config-maps-dir`. */
  readonly secretsDir?: string;
  readonly configMapsDir?: string;
  /** The brokers of connectors (Kafka Connect JSON documents in the directory): `--kafka-bootstrap-servers`. */
  readonly kafkaBootstrapServers?: string;
}

interface SpecFile {
  readonly text: string;
  readonly supervisor: StreamSupervisor;
  /** The name the spec asks for when another file has it already. */
  readonly wanted?: string;
}

export class StreamDirectory {
  readonly dir: string;
  readonly #options: StreamDirectoryOptions;
  readonly #files = new Map<string, SpecFile>();
  readonly #streams = new Map<string, StreamSupervisor>();
  /** Streams stopping after their spec went away, by name. */
  readonly #retiring = new Map<string, Promise<void>>();
  #scan: Promise<void> | undefined;
  #scanAgain: Promise<void> | undefined;
  #watcher: fs.FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: StreamDirectoryOptions) {
    this.#options = options;
    this.dir = path.resolve(options.dir);
  }

  /** Loads every spec, starts the streams and watches the directory. */
  async open(): Promise<void> {
    if (!fs.statSync(this.dir, { throwIfNoEntry: false })?.isDirectory()) {
      throw new PgcdcError('CONFIG_UNREADABLE', `the streams directory ${this.dir} does not exist or is not a directory`, {
        hint: 'give --streams a directory of stream specs (*.yaml, *.yml, *.json); it may be empty',
      });
    }
    await this.rescan();
    try {
      this.#watcher = fs.watch(this.dir, () => this.#debounced());
      this.#watcher.on('error', (error) => this.#options.logger.warn({ err: error }, 'watching the streams directory failed; rescanning every 2 s'));
    } catch (error) {
      this.#options.logger.warn({ err: error }, 'cannot watch the streams directory; rescanning every 2 s');
    }
    this.#timer = setInterval(() => void this.rescan(), RESCAN_INTERVAL_MS);
  }

  /** Every stream (and failed spec), by name. */
  list(): StreamSupervisor[] {
    return [...this.#streams.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): StreamSupervisor | undefined {
    return this.#streams.get(name);
  }

  /** Reads the directory again (a scan already running is followed by one more). */
  rescan(): Promise<void> {
    if (this.#scan === undefined) {
      this.#scan = this.#scanOnce().finally(() => (this.#scan = undefined));
      return this.#scan;
    }
    this.#scanAgain ??= this.#scan.then(() => {
      this.#scanAgain = undefined;
      return this.rescan();
    });
    return this.#scanAgain;
  }

  /** The text of stream `name`'s file as last loaded (a connector's JSON document, a spec). */
  specText(name: string): string | undefined {
    const stream = this.#streams.get(name);
    return stream === undefined ? undefined : this.#files.get(stream.file)?.text;
  }

  /** A new stream from a spec's text, written as `<name>.<extension>`; 409 when the name is taken. */
  async create(text: string, extension: 'yaml' | 'json' = 'yaml'): Promise<StreamSupervisor> {
    const config = await this.#parse(text, 'request body');
    if (this.#streams.has(config.name)) throw new HttpError(409, `a stream named ${config.name} exists already; change it with PUT /api/streams/${config.name}`);
    const file = `${config.name}.${extension}`;
    if (this.#files.has(file) || fs.existsSync(path.join(this.dir, file))) throw new HttpError(409, `${file} exists already in ${this.dir}`);
    await this.#write(file, text);
    return this.#after(config.name);
  }

  /** Replaces the spec of stream `name` (creating it when there is none); `created` tells which. */
  async replace(name: string, text: string, extension: 'yaml' | 'json' = 'yaml'): Promise<{ stream: StreamSupervisor; created: boolean }> {
    const config = await this.#parse(text, 'request body');
    if (config.name !== name) throw new HttpError(400, `the spec's metadata.name is ${config.name}, not ${name}; a stream keeps its name (create another with POST /api/streams)`);
    const existing = this.#streams.get(name);
    await this.#write(existing?.file ?? `${name}.${extension}`, text);
    return { stream: await this.#after(name), created: existing === undefined };
  }

  /** Removes the stream's file; resolves once the stream has stopped. */
  async remove(name: string): Promise<void> {
    const stream = this.#streams.get(name);
    if (stream === undefined) throw new HttpError(404, `no stream named ${name}`);
    await unlink(path.join(this.dir, stream.file));
    await this.rescan();
    await this.#retiring.get(name);
  }

  /** Stops watching, then stops every stream gracefully (all at once) and waits for them. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    clearInterval(this.#timer);
    clearTimeout(this.#debounce);
    await this.#scanAgain;
    await this.#scan;
    const stopping = [...this.#streams.values()].map((stream) => stream.dispose());
    await Promise.allSettled([...stopping, ...this.#retiring.values()]);
  }

  #debounced(): void {
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => void this.rescan(), WATCH_DEBOUNCE_MS);
  }

  async #scanOnce(): Promise<void> {
    if (this.#closed) return;
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((name) => SPEC_FILE.test(name)).sort();
    } catch (error) {
      this.#options.logger.warn({ err: error }, `cannot read the streams directory ${this.dir}`);
      return;
    }
    const present = new Set(names);
    for (const [file, spec] of this.#files) {
      if (!present.has(file)) {
        this.#files.delete(file);
        this.#retire(spec.supervisor);
        this.#options.logger.info({ file, stream: spec.supervisor.name }, 'stream spec removed');
      }
    }
    for (const file of names) {
      let text: string;
      try {
        text = await readFile(path.join(this.dir, file), 'utf8');
      } catch {
        continue; // removed meanwhile, or not a file: the next scan sees it
      }
      if (this.#closed) return;
      const known = this.#files.get(file);
      const wantedIsFree = known?.wanted !== undefined && !this.#streams.has(known.wanted);
      if (known !== undefined && known.text === text && !wantedIsFree) continue;
      await this.#load(file, text, known);
    }
  }

  /** A new or changed file: (re)start its stream, or show why it cannot run. */
  async #load(file: string, text: string, known: SpecFile | undefined): Promise<void> {
    const { logger } = this.#options;
    const context = { logger, metrics: this.#options.metrics };
    let config: StreamConfig;
    try {
      config = await this.#parse(text, path.join(this.dir, file));
    } catch (error) {
      if (known !== undefined) this.#retire(known.supervisor);
      const supervisor = StreamSupervisor.invalid(file, file, error, context);
      this.#add(file, { text, supervisor });
      logger.warn({ file }, `stream spec ${file} is invalid: ${supervisor.view().error?.message ?? ''}`);
      return;
    }
    const current = known?.supervisor;
    if (current !== undefined && current.name === config.name && current.config !== undefined) {
      this.#files.set(file, { text, supervisor: current });
      logger.info({ file, stream: config.name }, 'stream spec changed');
      void current.replace(config);
      return;
    }
    if (current !== undefined) this.#retire(current);
    const owner = this.#streams.get(config.name);
    if (owner !== undefined) {
      const error = new PgcdcError('CONFIG_INVALID', `${file} names its stream ${config.name}, the name of the stream of ${owner.file}`, {
        hint: `give metadata.name in ${file} another value: each stream of the directory needs its own name`,
      });
      this.#add(file, { text, supervisor: StreamSupervisor.invalid(file, file, error, context), wanted: config.name });
      logger.warn({ file }, error.toLine());
      return;
    }
    const kept = await readKeptTargetState(this.dir, config.name);
    const supervisor = StreamSupervisor.of(config, file, context);
    this.#add(file, { text, supervisor });
    logger.info({ file, stream: config.name }, 'stream spec loaded');
    void (kept === 'paused' ? supervisor.pause() : kept === 'stopped' ? supervisor.stop() : supervisor.start(this.#retiring.get(config.name)));
  }

  #add(file: string, spec: SpecFile): void {
    this.#files.set(file, spec);
    this.#streams.set(spec.supervisor.name, spec.supervisor);
  }

  /** Forgets a stream at once; it stops gracefully in the background, then its metrics go. */
  #retire(supervisor: StreamSupervisor): void {
    const { name } = supervisor;
    if (this.#streams.get(name) === supervisor) this.#streams.delete(name);
    if (supervisor.config === undefined) return;
    const previous = this.#retiring.get(name) ?? Promise.resolve();
    const stopped: Promise<void> = previous
      .then(() => supervisor.dispose())
      .catch(() => undefined)
      .finally(() => {
        if (this.#retiring.get(name) === stopped) this.#retiring.delete(name);
        if (!this.#streams.has(name)) this.#options.metrics.remove(name);
      });
    this.#retiring.set(name, stopped);
  }

  /** A spec's stream; connectors and the other formats get the serve's brokers. */
  #parse(text: string, fileName: string): Promise<StreamConfig> {
    const { secretsDir, configMapsDir, kafkaBootstrapServers } = this.#options;
    return parseStreamConfig(text, {
      fileName,
      cwd: this.dir,
      ...(kafkaBootstrapServers ? { kafkaBootstrapServers } : {}),
      ...(secretsDir ? { secretsDir: path.resolve(secretsDir) } : {}),
      ...(configMapsDir ? { configMapsDir: path.resolve(configMapsDir) } : {}),
    });
  }

  /** Writes a spec file whole and durably (a scan never sees half of it). */
  #write(file: string, text: string): Promise<void> {
    return writeFileWhole(this.dir, file, text);
  }

  /** The stream `name` once a scan has loaded what was just written. */
  async #after(name: string): Promise<StreamSupervisor> {
    await this.rescan();
    const stream = this.#streams.get(name);
    if (stream === undefined) throw new HttpError(500, `the spec of ${name} was written but not loaded`);
    return stream;
  }
}
