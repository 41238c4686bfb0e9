/*
 * The tests' independent oracle for what a Kafka cluster holds: reads every record of every topic
 * whose name matches a regex, from the beginning, with Kafka's own Java consumer, and prints one
 * JSON line per record.
 *
 *   java -cp '.jvm/kafka/lib/*' test/jvm/TopicDump.java <bootstrap> <read_committed|read_uncommitted>
 *        <topic-regex> [--timeout-ms N] [--expect N]
 *
 * Each line: {"topic","partition","offset","key","value","headers":{name:value},"timestamp"}; key,
 * value and header values are UTF-8 strings or null; a header name repeated keeps its last value.
 * Records come partition by partition in offset order, partitions in (topic, partition) order.
 * The regex must match the whole topic name; internal topics (names starting with "__") are read
 * only when the regex itself starts with "__".
 *
 * Without --expect it reads up to the end offsets of the matching partitions as of its start (the
 * last stable offsets under read_committed) and exits 0. With --expect N it waits, looking again
 * for new matching topics and partitions, until it has read at least N records, then reads up to
 * the end offsets as of that moment, so records past the N-th are printed too. Past --timeout-ms
 * (default 30000) it prints what it read, a message on stderr, and exits 3. Bad arguments exit 2.
 */
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class TopicDump {
  public static void main(String[] args) throws Exception {
    if (args.length < 3) usage("missing arguments");
    String bootstrap = args[0];
    String isolation = args[1];
    if (!isolation.equals("read_committed") && !isolation.equals("read_uncommitted")) usage("bad isolation " + isolation);
    Pattern pattern = Pattern.compile(args[2]);
    boolean internal = args[2].startsWith("__");
    long timeoutMs = 30_000;
    long expect = -1;
    for (int i = 3; i < args.length; i++) {
      if (args[i].equals("--timeout-ms") && i + 1 < args.length) timeoutMs = Long.parseLong(args[++i]);
      else if (args[i].equals("--expect") && i + 1 < args.length) expect = Long.parseLong(args[++i]);
      else usage("unknown argument " + args[i]);
    }
    long deadline = System.currentTimeMillis() + timeoutMs;

    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.put(ConsumerConfig.CLIENT_ID_CONFIG, "pgcdc-topic-dump");
    props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");
    props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");

    PrintStream out = new PrintStream(new BufferedOutputStream(System.out, 1 << 16), false, StandardCharsets.UTF_8);
    ObjectMapper json = new ObjectMapper();
    // Records are kept per partition and printed at the end, in offset order.
    Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> read = new TreeMap<>(
        Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
    int code = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> assigned = new ArrayList<>();
      Map<TopicPartition, Long> ends = null; // the offsets to reach, once fixed
      long count = 0;
      long nextListing = 0;
      for (;;) {
        try {
          long now = System.currentTimeMillis();
          Duration remaining = Duration.ofMillis(Math.max(1, deadline - now));
          if (ends == null && (assigned.isEmpty() || expect >= 0) && now >= nextListing) {
            List<TopicPartition> found = matching(consumer, pattern, internal, remaining);
            if (found.size() != assigned.size()) {
              List<TopicPartition> added = new ArrayList<>(found);
              added.removeAll(assigned);
              assigned = found;
              consumer.assign(assigned);
              consumer.seekToBeginning(added);
            }
            nextListing = now + 500;
          }
          if (ends == null && (expect < 0 || count >= expect)) {
            ends = assigned.isEmpty() ? Map.of() : consumer.endOffsets(assigned, remaining);
          }
          if (ends != null && reached(consumer, ends, remaining)) break;
          if (assigned.isEmpty()) {
            Thread.sleep(100);
          } else {
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(100))) {
              read.computeIfAbsent(new TopicPartition(record.topic(), record.partition()), tp -> new ArrayList<>()).add(record);
              count++;
            }
          }
        } catch (TimeoutException slow) {
          // a slow or changing cluster: tried again until the deadline
        }
        if (System.currentTimeMillis() > deadline) {
          System.err.println("TopicDump: timed out after " + timeoutMs + " ms with " + count + " records"
              + (expect >= 0 ? " of " + expect + " expected" : "") + " from " + assigned.size() + " partitions");
          code = 3;
          break;
        }
      }
    }
    for (List<ConsumerRecord<byte[], byte[]>> records : read.values()) {
      for (ConsumerRecord<byte[], byte[]> record : records) {
        ObjectNode line = json.createObjectNode();
        line.put("topic", record.topic());
        line.put("partition", record.partition());
        line.put("offset", record.offset());
        line.put("key", text(record.key()));
        line.put("value", text(record.value()));
        ObjectNode headers = line.putObject("headers");
        for (Header header : record.headers()) headers.put(header.key(), text(header.value()));
        line.put("timestamp", record.timestamp());
        out.println(json.writeValueAsString(line));
      }
    }
    out.flush();
    System.exit(code);
  }

  /** The partitions of the topics whose whole name matches, sorted. */
  private static List<TopicPartition> matching(KafkaConsumer<byte[], byte[]> consumer, Pattern pattern, boolean internal, Duration timeout) {
    List<TopicPartition> found = new ArrayList<>();
    for (Map.Entry<String, List<PartitionInfo>> topic : consumer.listTopics(timeout).entrySet()) {
      if (!pattern.matcher(topic.getKey()).matches()) continue;
      if (topic.getKey().startsWith("__") && !internal) continue;
      for (PartitionInfo partition : topic.getValue()) found.add(new TopicPartition(partition.topic(), partition.partition()));
    }
    found.sort(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
    return found;
  }

  /** Whether the consumer's position is at or past the end offset on every partition. */
  private static boolean reached(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> ends, Duration timeout) {
    for (Map.Entry<TopicPartition, Long> end : ends.entrySet()) {
      if (consumer.position(end.getKey(), timeout) < end.getValue()) return false;
    }
    return true;
  }

  private static String text(byte[] bytes) {
    return bytes == null ? null : new String(bytes, StandardCharsets.UTF_8);
  }

  private static void usage(String problem) {
    System.err.println("TopicDump: " + problem + "\nusage: TopicDump <bootstrap> <read_committed|read_uncommitted> <topic-regex> [--timeout-ms N] [--expect N]");
    System.exit(2);
  }
}
