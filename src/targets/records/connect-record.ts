/**
 * Records as Kafka Connect's transforms (SMTs) and converters see them: a topic, a key and a value
 * each with its Connect schema, and headers. The Kafka target builds its records as JsonConverter
 * bytes (`change-records`); when a stream has Connect transforms or a converter other than
 * JsonConverter, each record is read back into this form (`connectRecordOf`), transformed, then
 * written by the converter. Nothing here runs for a stream with neither.
 */
import type { ChangeRecord } from './change-records.js';

/** A Connect schema, as JsonConverter writes it (`{"type":"struct","fields":[…],"optional":…,"name":…}`). */
export interface ConnectSchema {
  readonly type: 'int8' | 'int16' | 'int32' | 'int64' | 'float' | 'float32' | 'double' | 'float64' | 'boolean' | 'string' | 'bytes' | 'array' | 'map' | 'struct';
  readonly optional: boolean;
  readonly name?: string;
  readonly version?: number;
  readonly doc?: string;
  readonly parameters?: Readonly<Record<string, string>>;
  readonly default?: unknown;
  /** A struct's fields, in order, each named by `field`. */
  readonly fields?: readonly ConnectField[];
  readonly items?: ConnectSchema;
  readonly keys?: ConnectSchema;
  readonly values?: ConnectSchema;
}

export interface ConnectField extends ConnectSchema {
  readonly field: string;
}

/**
 * A record between the record builder and the converter. Struct values are plain objects (their
 * fields in schema order), int64 values beyond 2^53 are bigints, bytes are base64 text as
 * JsonConverter writes them.
 */
export interface ConnectRecord {
  topic: string;
  keySchema: ConnectSchema | null;
  key: unknown;
  valueSchema: ConnectSchema | null;
  /** Null for a tombstone. */
  value: unknown;
  /** Header names and values (Debezium's headers are strings). */
  headers: Map<string, string>;
  /** The record as built, for what a converter keeps (operation, event). */
  readonly source: ChangeRecord;
}

/** One Connect transform (SMT) of a chain: the record changed (in place or anew), or null to drop it. */
export interface ConnectTransform {
  apply(record: ConnectRecord): ConnectRecord | null;
}
