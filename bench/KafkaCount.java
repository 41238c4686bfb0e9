/*
 * The Kafka benchmark's independent reader (bench/kafka-throughput.mjs): counts the records of one
 * topic with Kafka's own Java consumer, so that neither pgcdc's client nor Debezium's producer
 * checks itself.
 *
 *   java -cp <kafka jars> KafkaCount <bootstrap> <read_committed|read_uncommitted> <topic>
 *        [--wait N] [--timeout-ms N] [--latency]
 *
 * --wait N: first waits (polling the end offsets every 50 ms, nothing read) until the topic exists
 * and its end offsets add up to at least N, and prints {"reached":<epoch ms>} on a line of its own.
 * Then it reads the topic from the beginning up to its end offsets as of that moment (under
 * read_committed the last stable offsets: records of aborted transactions and transaction markers
 * are not counted) and prints {"count","nullValues","firstTimestamp","lastTimestamp"} (record
 * timestamps: the broker's append time on a LogAppendTime topic). --latency first prints a line
 * "<source.ts_us> <timestamp>" per record with a value (its source commit time in microseconds,
 * from the value's `source` block, with or without the JsonConverter schema envelope). Past
 * --timeout-ms (default 120000) it exits 3; bad arguments exit 2.
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class KafkaCount {
  public static void main(String[] args) throws Exception {
    if (args.length < 3) usage("missing arguments");
    String bootstrap = args[0];
    String isolation = args[1];
    if (!isolation.equals("read_committed") && !isolation.equals("read_uncommitted")) usage("bad isolation " + isolation);
    String topic = args[2];
    long wait = -1;
    long timeoutMs = 120_000;
    boolean latency = false;
    for (int i = 3; i < args.length; i++) {
      if (args[i].equals("--wait") && i + 1 < args.length) wait = Long.parseLong(args[++i]);
      else if (args[i].equals("--timeout-ms") && i + 1 < args.length) timeoutMs = Long.parseLong(args[++i]);
      else if (args[i].equals("--latency")) latency = true;
      else usage("unknown argument " + args[i]);
    }
    long deadline = System.currentTimeMillis() + timeoutMs;

    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.put(ConsumerConfig.CLIENT_ID_CONFIG, "pgcdc-bench-count");
    props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "20000");
    props.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Integer.toString(64 << 20));
    props.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(16 << 20));

    PrintStream out = new PrintStream(new BufferedOutputStream(System.out, 1 << 16), false, StandardCharsets.UTF_8);
    ObjectMapper json = new ObjectMapper();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = partitionsOf(consumer, topic, deadline);
      if (wait >= 0) {
        for (;;) {
          if (sum(endOffsets(consumer, partitions, deadline)) >= wait) break;
          if (System.currentTimeMillis() > deadline) timeout(out, "the end offsets of " + topic + " did not reach " + wait);
          Thread.sleep(50);
        }
        out.println("{\"reached\":" + System.currentTimeMillis() + "}");
        out.flush();
      }
      Map<TopicPartition, Long> ends = endOffsets(consumer, partitions, deadline);
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      long count = 0;
      long nullValues = 0;
      long first = Long.MAX_VALUE;
      long last = Long.MIN_VALUE;
      while (!reached(consumer, ends, deadline)) {
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(100))) {
          count++;
          first = Math.min(first, record.timestamp());
          last = Math.max(last, record.timestamp());
          if (record.value() == null) {
            nullValues++;
          } else if (latency) {
            JsonNode value = json.readTree(record.value());
            JsonNode source = value.has("payload") && value.get("payload").has("source") ? value.get("payload").get("source") : value.get("source");
            out.print(source.get("ts_us").asLong());
            out.print(' ');
            out.println(record.timestamp());
          }
        }
        if (System.currentTimeMillis() > deadline) timeout(out, "read " + count + " records of " + topic + " before the deadline");
      }
      out.println("{\"count\":" + count + ",\"nullValues\":" + nullValues + ",\"firstTimestamp\":" + (count == 0 ? "null" : first)
          + ",\"lastTimestamp\":" + (count == 0 ? "null" : last) + "}");
    }
    out.flush();
    System.exit(0);
  }

  /** The partitions of `topic`, waiting until it exists. */
  private static List<TopicPartition> partitionsOf(KafkaConsumer<byte[], byte[]> consumer, String topic, long deadline) throws InterruptedException {
    for (;;) {
      try {
        List<PartitionInfo> infos = consumer.listTopics(remaining(deadline)).get(topic);
        if (infos != null && !infos.isEmpty()) {
          List<TopicPartition> partitions = new ArrayList<>();
          for (PartitionInfo info : infos) partitions.add(new TopicPartition(topic, info.partition()));
          return partitions;
        }
      } catch (TimeoutException slow) {
        // tried again until the deadline
      }
      if (System.currentTimeMillis() > deadline) {
        System.err.println("KafkaCount: topic " + topic + " does not exist");
        System.exit(3);
      }
      Thread.sleep(100);
    }
  }

  private static Map<TopicPartition, Long> endOffsets(KafkaConsumer<byte[], byte[]> consumer, List<TopicPartition> partitions, long deadline) {
    for (;;) {
      try {
        return consumer.endOffsets(partitions, remaining(deadline));
      } catch (TimeoutException slow) {
        if (System.currentTimeMillis() > deadline) throw slow;
      }
    }
  }

  private static long sum(Map<TopicPartition, Long> offsets) {
    long total = 0;
    for (long offset : offsets.values()) total += offset;
    return total;
  }

  /** Whether the consumer's position is at or past the end offset on every partition. */
  private static boolean reached(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> ends, long deadline) {
    for (Map.Entry<TopicPartition, Long> end : ends.entrySet()) {
      if (consumer.position(end.getKey(), remaining(deadline)) < end.getValue()) return false;
    }
    return true;
  }

  private static Duration remaining(long deadline) {
    return Duration.ofMillis(Math.max(1_000, deadline - System.currentTimeMillis()));
  }

  private static void timeout(PrintStream out, String what) {
    out.flush();
    System.err.println("KafkaCount: timed out: " + what);
    System.exit(3);
  }

  private static void usage(String problem) {
    System.err.println("KafkaCount: " + problem
        + "\nusage: KafkaCount <bootstrap> <read_committed|read_uncommitted> <topic> [--wait N] [--timeout-ms N] [--latency]");
    System.exit(2);
  }
}
