/**
 * pgcdc as a TypeScript library: load a stream spec, run it (with the spec's target or one of
 * your own), and read the events' rows as plain objects. The CLI is built on the same calls.
 */
export { loadStreamConfig, parseStreamConfig, type StreamConfigOptions } from './config/load-stream-config.js';
export type { SourceConfig, StreamConfig, TargetConfig } from './config/stream-config.js';
export { PgcdcError, type ErrorCode } from './errors/pgcdc-error.js';
export type { BeginEvent, CommitEvent, EventBatch, MessageEvent, RowEvent, StreamEvent, TableInfo, TruncateEvent } from './events/stream-event.js';
export { tupleToObject } from './events/tuple-json.js';
export { createLogger, silentLogger, type Logger } from './logging/logger.js';
export { runStream, type RunStreamOptions, type RunStreamResult } from './pipeline/run-stream.js';
export { formatLsn, parseLsn, type Lsn } from './source/lsn.js';
export { createTarget } from './targets/create-target.js';
export type { Target, WrittenBatch } from './targets/target.js';
export { PGCDC_VERSION } from './version.js';
