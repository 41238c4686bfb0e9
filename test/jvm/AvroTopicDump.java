/*
 * The Avro tests' independent oracle: reads every record of the topics whose whole name matches a
 * regex, from the beginning, with Kafka's own Java consumer, and decodes keys and values in the
 * Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro binary) with Apache Avro's
 * Java library, the writer schema fetched by id from the registry (GET <registry>/schemas/ids/<id>).
 *
 *   java -cp '.jvm/kafka/lib/*:<avro jar>' test/jvm/AvroTopicDump.java <bootstrap> <registry-url>
 *        <topic-regex> <expected-records> [timeout-ms]
 *
 * Prints one JSON line per record, partition by partition in offset order:
 * {"topic","partition","offset","keySchemaId","key","valueSchemaId","value"}; key and value are the
 * datum as Avro's GenericData writes it as JSON (unions unwrapped, bytes as strings of code points
 * 0-255), or null. Exits 3 (after printing what it read) when fewer records came within the timeout
 * (default 60000 ms), 2 on bad arguments or a record not in the wire format.
 */
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.regex.Pattern;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class AvroTopicDump {
  /** GenericData writes NaN and Infinity bare: read them as numbers (written back as "NaN" strings). */
  private static final ObjectMapper JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final Map<Integer, Schema> SCHEMAS = new HashMap<>();

  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      System.err.println("usage: AvroTopicDump <bootstrap> <registry-url> <topic-regex> <expected-records> [timeout-ms]");
      System.exit(2);
    }
    String registry = args[1].replaceAll("/+$", "");
    int expected = Integer.parseInt(args[3]);
    long deadline = System.currentTimeMillis() + (args.length > 4 ? Long.parseLong(args[4]) : 60_000L);
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(ConsumerConfig.GROUP_ID_CONFIG, "avro-topic-dump-" + UUID.randomUUID());
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.METADATA_MAX_AGE_CONFIG, "500");
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      consumer.subscribe(Pattern.compile(args[2]));
      while (records.size() < expected && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) records.add(record);
      }
    }
    records.sort(Comparator.<ConsumerRecord<byte[], byte[]>, String>comparing(ConsumerRecord::topic).thenComparingInt(ConsumerRecord::partition).thenComparingLong(ConsumerRecord::offset));
    StringBuilder out = new StringBuilder();
    for (ConsumerRecord<byte[], byte[]> record : records) {
      ObjectNode line = JSON.createObjectNode();
      line.put("topic", record.topic());
      line.put("partition", record.partition());
      line.put("offset", record.offset());
      decodeInto(line, "key", record.key(), registry);
      decodeInto(line, "value", record.value(), registry);
      out.append(JSON.writeValueAsString(line)).append('\n');
    }
    System.out.print(out);
    System.out.flush();
    if (records.size() < expected) {
      System.err.println("AvroTopicDump: read " + records.size() + " of " + expected + " records before the timeout");
      System.exit(3);
    }
  }

  private static void decodeInto(ObjectNode line, String member, byte[] bytes, String registry) throws Exception {
    if (bytes == null) {
      line.putNull(member + "SchemaId");
      line.putNull(member);
      return;
    }
    ByteBuffer buffer = ByteBuffer.wrap(bytes);
    if (bytes.length < 5 || buffer.get() != 0) {
      System.err.println("AvroTopicDump: a " + member + " is not in the Confluent wire format (no magic byte 0)");
      System.exit(2);
    }
    int id = buffer.getInt();
    Schema schema = schemaById(registry, id);
    GenericDatumReader<Object> reader = new GenericDatumReader<>(schema);
    Object datum = reader.read(null, DecoderFactory.get().binaryDecoder(bytes, 5, bytes.length - 5, null));
    line.put(member + "SchemaId", id);
    JsonNode decoded = JSON.readTree(GenericData.get().toString(datum));
    line.set(member, decoded);
  }

  private static Schema schemaById(String registry, int id) throws Exception {
    Schema known = SCHEMAS.get(id);
    if (known != null) return known;
    HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(registry + "/schemas/ids/" + id)).GET().build(), HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) throw new IllegalStateException("registry answered " + response.statusCode() + " for schema " + id + ": " + response.body());
    Schema schema = new Schema.Parser().parse(JSON.readTree(response.body()).get("schema").asText());
    SCHEMAS.put(id, schema);
    return schema;
  }
}
