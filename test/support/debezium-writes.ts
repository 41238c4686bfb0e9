/**
 * Waiting for Debezium on Kafka Connect to have written a workload (the conformance tests compare
 * its records with pgcdc's only once it has written them all). Kept apart from debezium-connect,
 * which the benchmarks compile without the test runner.
 */
import type { DebeziumConnect } from './debezium-connect.js';
import type { KafkaCluster } from './kafka-cluster.js';
import { sql, waitFor } from './postgres.js';

/**
 * Waits until Debezium has written everything up to `lsn`: the marker event inserted after it is on
 * `<prefix>.public.marker` and its slot is confirmed past it (Connect commits offsets only for
 * records the brokers acknowledged). Fails with the task's trace if the connector failed.
 */
export async function waitForDebeziumWrites(connect: DebeziumConnect, kafka: KafkaCluster, url: string, prefix: string, lsn: string): Promise<void> {
  const state = await waitFor(
    async () => {
      const status = await connect.status();
      const failed = [status.connector, ...status.tasks].find((task) => task.state === 'FAILED');
      if (failed) return `failed: ${failed.trace ?? ''}`;
      const marker = await kafka.consume(`${prefix}\\.public\\.marker`, { timeoutMs: 5_000 }).catch(() => []);
      if (marker.length === 0) return undefined;
      const { rows } = await sql(url, 'select confirmed_flush_lsn >= $1::pg_lsn as done from pg_replication_slots where slot_name = $2', [lsn, connect.slotName]);
      return rows[0]?.done === true ? 'done' : undefined;
    },
    240_000,
    'Debezium to write and confirm the workload',
  );
  if (state !== 'done') throw new Error(`Debezium did not write the workload: ${state}`);
}
