/**
 * Reads the record set a Fetch response holds for one partition (Kafka's record batches, magic 2)
 * into KafkaMessage objects, straight from the response's bytes: key and value are views of them,
 * offsets and timestamps plain numbers, headers parsed only when asked for. Compressed batches are
 * inflated first; records below the fetch offset, control batches and, for read_committed, the
 * batches of aborted transactions are skipped the way Kafka's Java consumer does; the offset to
 * fetch next goes past everything read, skipped batches included.
 */
import { compressionsAlgorithmsByBitmask } from '@platformatic/kafka';
import { decompress as zstdDecompress } from 'fzstd';
import zlib from 'node:zlib';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { KafkaMessage } from './decoded-change.js';

/** A transaction the broker says was aborted, from the Fetch response (read_committed only). */
export interface AbortedTransaction {
  readonly producerId: bigint;
  readonly firstOffset: number;
}

/** Byte positions in a batch's header (KIP-98's record batch v2). */
const BATCH_LENGTH_AT = 8;
const MAGIC_AT = 16;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;
const BASE_TIMESTAMP_AT = 27;
const MAX_TIMESTAMP_AT = 35;
const PRODUCER_ID_AT = 43;
const RECORD_COUNT_AT = 57;
const RECORDS_AT = 61;
/** baseOffset and batchLength: what must be there to know a batch's size. */
const BATCH_SIZE_HEAD = 12;

const COMPRESSION_MASK = 0x07;
const LOG_APPEND_TIME = 0x08;
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
/** The control record type of an abort marker (the key is version int16, type int16). */
const ABORT_MARKER = 0;
const SNAPPY = 2;
const ZSTD = 4;
/** snappy-java's stream header: its magic, then version and compatible version (int32 each). */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_LENGTH = XERIAL_MAGIC.length + 8;
const CODEC_NAMES: Record<number, string> = { 1: 'gzip', 2: 'snappy', 3: 'lz4', 4: 'zstd' };
const TWO_32 = 4294967296;
const EMPTY = Buffer.alloc(0);

/** Node.js's own zstd (22.15 and later), faster than fzstd's JavaScript. */
const nativeZstd = (zlib as { zstdDecompressSync?: (data: Buffer) => Buffer }).zstdDecompressSync;

/**
 * Snappy as Kafka's Java producer writes it (snappy-java's stream): a header (magic, version,
 * compatible version), then blocks of a length (int32) and raw snappy data.
 */
function inflateXerialSnappy(compressed: Buffer): Buffer {
  const raw = compressionsAlgorithmsByBitmask[SNAPPY]!;
  const blocks: Buffer[] = [];
  let pos = XERIAL_HEADER_LENGTH;
  while (pos + 4 <= compressed.length) {
    const length = compressed.readInt32BE(pos);
    pos += 4;
    blocks.push(raw.decompressSync(compressed.subarray(pos, pos + length)));
    pos += length;
  }
  return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks);
}

/** Inflates a compressed batch's records: the client library's codecs; zstd from Node.js when it has it, else fzstd. */
function inflate(codec: number, compressed: Buffer): Buffer {
  if (codec === ZSTD) {
    if (nativeZstd !== undefined) return nativeZstd(compressed);
    const inflated = zstdDecompress(compressed);
    return Buffer.from(inflated.buffer, inflated.byteOffset, inflated.byteLength);
  }
  if (codec === SNAPPY && compressed.length >= XERIAL_HEADER_LENGTH && compressed.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) return inflateXerialSnappy(compressed);
  const algorithm = compressionsAlgorithmsByBitmask[codec];
  if (algorithm === undefined) {
    throw new PgcdcError('KAFKA_SOURCE_FAILED', `a Kafka record batch is compressed with codec ${codec}, which pgcdc does not know`, {
      hint: 'produce the topic with gzip, snappy, lz4 or zstd compression (or none)',
    });
  }
  return algorithm.decompressSync(compressed);
}

/** Reads varints (zigzag) at `pos` of `buf`, advancing it. */
class VarintCursor {
  buf: Buffer = EMPTY;
  pos = 0;

  /** A 32-bit zigzag varint. */
  int(): number {
    const buf = this.buf;
    let byte = buf[this.pos++]!;
    let value = byte & 0x7f;
    let shift = 7;
    while (byte & 0x80) {
      byte = buf[this.pos++]!;
      value |= (byte & 0x7f) << shift;
      shift += 7;
    }
    return (value >>> 1) ^ -(value & 1);
  }

  /** A 64-bit zigzag varint as a number (exact below 2^53). */
  long(): number {
    const buf = this.buf;
    let byte = buf[this.pos++]!;
    let value = byte & 0x7f;
    let scale = 128;
    while (byte & 0x80) {
      byte = buf[this.pos++]!;
      value += (byte & 0x7f) * scale;
      scale *= 128;
    }
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }
}

/** One record of a change topic: key and value are views of the fetched bytes. */
export class FetchedRecord implements KafkaMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly #records: Buffer;
  readonly #headersAt: number;
  #headers: Map<string, Buffer> | undefined;

  constructor(topic: string, partition: number, offset: number, timestamp: number, key: Buffer | null, value: Buffer | null, records: Buffer, headersAt: number) {
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
    this.timestamp = timestamp;
    this.key = key;
    this.value = value;
    this.#records = records;
    this.#headersAt = headersAt;
  }

  /** The record's headers, parsed on first use; a name that repeats keeps its last value, a null value reads as empty. */
  get headers(): ReadonlyMap<string, Buffer> {
    if (this.#headers !== undefined) return this.#headers;
    const headers = new Map<string, Buffer>();
    const cursor = new VarintCursor();
    cursor.buf = this.#records;
    cursor.pos = this.#headersAt;
    const count = cursor.int();
    for (let i = 0; i < count; i++) {
      const nameLength = cursor.int();
      const name = this.#records.toString('utf8', cursor.pos, cursor.pos + nameLength);
      cursor.pos += nameLength;
      const valueLength = cursor.int();
      headers.set(name, valueLength < 0 ? EMPTY : this.#records.subarray(cursor.pos, cursor.pos + valueLength));
      cursor.pos += Math.max(valueLength, 0);
    }
    return (this.#headers = headers);
  }
}

function readOffset(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
}

/** Reads the record sets of fetched partitions; one per consumer, reused. */
export class RecordBatchReader {
  readonly #cursor = new VarintCursor();

  /**
   * Appends to `into` the records of `records` (one partition's record set) at or after
   * `fetchOffset`, skipping control batches and, when `aborted` is given (read_committed), the
   * batches of aborted transactions. Returns the offset to fetch next: past the last whole batch
   * (a batch cut at the end of the set is fetched again), or `fetchOffset` when there was none.
   *
   * @throws PgcdcError KAFKA_SOURCE_FAILED for a batch in a message format before Kafka 0.11 or an unknown codec
   */
  read(records: Buffer, topic: string, partition: number, fetchOffset: number, aborted: readonly AbortedTransaction[] | null, into: KafkaMessage[]): number {
    let next = fetchOffset;
    let pos = 0;
    const abortedOrder = aborted && aborted.length > 1 ? [...aborted].sort((a, b) => a.firstOffset - b.firstOffset) : aborted;
    let abortedIndex = 0;
    const abortedProducers = new Set<bigint>();
    while (pos + BATCH_SIZE_HEAD <= records.length) {
      const end = pos + BATCH_SIZE_HEAD + records.readInt32BE(pos + BATCH_LENGTH_AT);
      if (end > records.length) break;
      const magic = records.readInt8(pos + MAGIC_AT);
      if (magic !== 2) {
        throw new PgcdcError('KAFKA_SOURCE_FAILED', `topic ${topic}, partition ${partition} holds a record batch in message format v${magic} (before Kafka 0.11), which pgcdc does not read`, {
          hint: 'write the topic with a Kafka 0.11 or newer producer (message format v2)',
        });
      }
      const baseOffset = readOffset(records, pos);
      const lastOffset = baseOffset + records.readInt32BE(pos + LAST_OFFSET_DELTA_AT);
      const batchAt = pos;
      pos = end;
      if (lastOffset >= fetchOffset) next = lastOffset + 1;
      const attributes = records.readInt16BE(batchAt + ATTRIBUTES_AT);
      const control = (attributes & CONTROL) !== 0;
      if (abortedOrder !== null) {
        const producerId = records.readBigInt64BE(batchAt + PRODUCER_ID_AT);
        if (producerId >= 0n) {
          while (abortedIndex < abortedOrder.length && abortedOrder[abortedIndex]!.firstOffset <= lastOffset) abortedProducers.add(abortedOrder[abortedIndex++]!.producerId);
          if (control) {
            if (this.#controlType(records, batchAt + RECORDS_AT) === ABORT_MARKER) abortedProducers.delete(producerId);
          } else if ((attributes & TRANSACTIONAL) !== 0 && abortedProducers.has(producerId)) {
            continue;
          }
        }
      }
      if (control || lastOffset < fetchOffset) continue;
      this.#readRecords(records, batchAt, end, attributes, baseOffset, topic, partition, fetchOffset, into);
    }
    return next;
  }

  #readRecords(batch: Buffer, at: number, end: number, attributes: number, baseOffset: number, topic: string, partition: number, fetchOffset: number, into: KafkaMessage[]): void {
    const count = batch.readInt32BE(at + RECORD_COUNT_AT);
    const baseTimestamp = readOffset(batch, at + BASE_TIMESTAMP_AT);
    const logAppendTime = (attributes & LOG_APPEND_TIME) !== 0;
    const maxTimestamp = readOffset(batch, at + MAX_TIMESTAMP_AT);
    const codec = attributes & COMPRESSION_MASK;
    let records = batch;
    if (codec !== 0) {
      try {
        records = inflate(codec, batch.subarray(at + RECORDS_AT, end));
      } catch (error) {
        if (error instanceof PgcdcError) throw error;
        throw new PgcdcError('KAFKA_SOURCE_FAILED', `could not decompress the ${CODEC_NAMES[codec] ?? codec} record batch at offset ${baseOffset} of topic ${topic}, partition ${partition}: ${(error as Error).message}`, {
          hint: 'the batch is corrupt or written by a codec variant pgcdc does not read; check the producer and the topic\'s compression.type',
        });
      }
    }
    const cursor = this.#cursor;
    cursor.buf = records;
    cursor.pos = codec === 0 ? at + RECORDS_AT : 0;
    for (let i = 0; i < count; i++) {
      const length = cursor.int();
      const recordEnd = cursor.pos + length;
      cursor.pos++; // attributes: unused
      const timestampDelta = cursor.long();
      const offset = baseOffset + cursor.int();
      if (offset < fetchOffset) {
        cursor.pos = recordEnd;
        continue;
      }
      const keyLength = cursor.int();
      const key = keyLength < 0 ? null : records.subarray(cursor.pos, cursor.pos + keyLength);
      if (keyLength > 0) cursor.pos += keyLength;
      const valueLength = cursor.int();
      const value = valueLength < 0 ? null : records.subarray(cursor.pos, cursor.pos + valueLength);
      if (valueLength > 0) cursor.pos += valueLength;
      into.push(new FetchedRecord(topic, partition, offset, logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta, key, value, records, cursor.pos));
      cursor.pos = recordEnd;
    }
    cursor.buf = EMPTY;
  }

  /** The control record type of a control batch's first record (its key: version, type). */
  #controlType(batch: Buffer, recordAt: number): number {
    const cursor = this.#cursor;
    cursor.buf = batch;
    cursor.pos = recordAt;
    cursor.int(); // length
    cursor.pos++; // attributes
    cursor.long(); // timestamp delta
    cursor.int(); // offset delta
    const keyLength = cursor.int();
    const type = keyLength >= 4 ? batch.readInt16BE(cursor.pos + 2) : -1;
    cursor.buf = EMPTY;
    return type;
  }
}
