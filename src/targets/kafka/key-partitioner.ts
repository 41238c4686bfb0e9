/**
 * The partition the Java producer's default partitioner gives a keyed record:
 * `toPositive(murmur2(keyBytes)) % partitions` (Kafka's `Utils.murmur2`, seed 0x9747b28c), so the
 * changes of one row land on the partition Debezium on Kafka Connect would put them on, in order.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 of `bytes[start, end)`, as a signed 32-bit integer (as Java returns it). */
export function murmur2(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const length = end - start;
  let h = (SEED ^ length) | 0;
  const whole = start + (length & ~3);
  for (let i = start; i < whole; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= bytes[whole + 2]! << 16;
  if (rest >= 2) h ^= bytes[whole + 1]! << 8;
  if (rest >= 1) {
    h ^= bytes[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of a record whose serialized key is `bytes[start, end)`, among `partitions`. */
export function partitionForKey(bytes: Uint8Array, partitions: number, start = 0, end = bytes.length): number {
  return (murmur2(bytes, start, end) & 0x7fffffff) % partitions;
}
