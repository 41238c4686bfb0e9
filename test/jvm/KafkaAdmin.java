/*
 * Topic administration and a plain producer for the tests, with Kafka's own Java clients: one
 * command per run, JSON on stdout, a message on stderr and exit code 1 on failure (2 for bad
 * arguments).
 *
 *   java -cp '.jvm/kafka/lib/*' test/jvm/KafkaAdmin.java <command> <bootstrap> ...
 *
 *   create-topic <bootstrap> <name> <partitions> <replication-factor> [config=value ...]
 *       creates the topic and waits until every partition has a leader; prints the description.
 *   describe-topic <bootstrap> <name>
 *       prints {"name","partitions":[{"partition","leader" (node id or null),"replicas","isr"}]}.
 *   wait-leader <bootstrap> <name> <partition> [--not <node-id>] [--timeout-ms N]
 *       waits until the partition has a leader (other than the given node); prints the description.
 *   delete-topic <bootstrap> <name>
 *       prints {"deleted":name}.
 *   alter-topic-config <bootstrap> <name> config=value ...
 *       sets the topic's configs and waits until the cluster describes them; prints {"altered":name}.
 *   add-acl <bootstrap> <principal> <operation> <resource-type> <resource-name> [--prefixed]
 *       allows the principal (User:alice) the operation (Write, Create, Describe, IdempotentWrite …)
 *       on the resource (topic, group, cluster, transactional-id; name "*" for all, the cluster's
 *       name is kafka-cluster) from any host, and waits until the cluster lists it; prints
 *       {"acl":…}. Needs a broker with an authorizer.
 *   produce <bootstrap> <topic>
 *       reads JSON lines {"key","value","partition"?,"headers"?: {name: value}} from stdin (key,
 *       value and header values: strings, sent as UTF-8, or null), sends them in order with
 *       acks=all and idempotence, and prints {"partition","offset"} per record.
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class KafkaAdmin {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long TIMEOUT_MS = 30_000;

  public static void main(String[] args) throws Exception {
    if (args.length < 3) usage("missing arguments");
    String command = args[0];
    String bootstrap = args[1];
    try {
      switch (command) {
        case "create-topic" -> {
          if (args.length < 5) usage("create-topic needs <name> <partitions> <replication-factor>");
          Map<String, String> configs = new HashMap<>();
          for (int i = 5; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) usage("bad config " + args[i]);
            configs.put(args[i].substring(0, eq), args[i].substring(eq + 1));
          }
          try (Admin admin = admin(bootstrap)) {
            NewTopic topic = new NewTopic(args[2], Integer.parseInt(args[3]), Short.parseShort(args[4])).configs(configs);
            admin.createTopics(List.of(topic)).all().get();
            long deadline = System.currentTimeMillis() + TIMEOUT_MS;
            for (;;) {
              TopicDescription description = describe(admin, args[2]);
              if (description != null && description.partitions().size() == topic.numPartitions()
                  && description.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty())) {
                print(json(description));
                break;
              }
              if (System.currentTimeMillis() > deadline) throw new IllegalStateException("topic " + args[2] + " has partitions without a leader");
              Thread.sleep(50);
            }
          }
        }
        case "describe-topic" -> {
          try (Admin admin = admin(bootstrap)) {
            TopicDescription description = describe(admin, args[2]);
            if (description == null) throw new IllegalStateException("no topic " + args[2]);
            print(json(description));
          }
        }
        case "wait-leader" -> {
          if (args.length < 4) usage("wait-leader needs <name> <partition>");
          int partition = Integer.parseInt(args[3]);
          Integer not = null;
          long timeoutMs = TIMEOUT_MS;
          for (int i = 4; i < args.length; i++) {
            if (args[i].equals("--not") && i + 1 < args.length) not = Integer.parseInt(args[++i]);
            else if (args[i].equals("--timeout-ms") && i + 1 < args.length) timeoutMs = Long.parseLong(args[++i]);
            else usage("unknown argument " + args[i]);
          }
          try (Admin admin = admin(bootstrap)) {
            long deadline = System.currentTimeMillis() + timeoutMs;
            String last = "no description";
            for (;;) {
              try {
                TopicDescription description = describe(admin, args[2]);
                if (description != null) {
                  ObjectNode json = json(description);
                  last = json.toString();
                  TopicPartitionInfo info = description.partitions().stream().filter(p -> p.partition() == partition).findFirst().orElse(null);
                  if (info != null && info.leader() != null && !info.leader().isEmpty() && (not == null || info.leader().id() != not)) {
                    print(json);
                    break;
                  }
                }
              } catch (java.util.concurrent.ExecutionException error) {
                last = String.valueOf(error.getCause());
              }
              if (System.currentTimeMillis() > deadline) {
                throw new IllegalStateException("partition " + partition + " of " + args[2] + " has no leader"
                    + (not == null ? "" : " other than " + not) + " after " + timeoutMs + " ms; last: " + last);
              }
              Thread.sleep(100);
            }
          }
        }
        case "delete-topic" -> {
          try (Admin admin = admin(bootstrap)) {
            admin.deleteTopics(List.of(args[2])).all().get();
            ObjectNode out = JSON.createObjectNode();
            out.put("deleted", args[2]);
            print(out);
          }
        }
        case "alter-topic-config" -> {
          if (args.length < 4) usage("alter-topic-config needs <name> config=value ...");
          ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, args[2]);
          List<AlterConfigOp> ops = new ArrayList<>();
          for (int i = 3; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) usage("bad config " + args[i]);
            ops.add(new AlterConfigOp(new ConfigEntry(args[i].substring(0, eq), args[i].substring(eq + 1)), AlterConfigOp.OpType.SET));
          }
          try (Admin admin = admin(bootstrap)) {
            admin.incrementalAlterConfigs(Map.of(resource, ops)).all().get();
            long deadline = System.currentTimeMillis() + TIMEOUT_MS;
            for (;;) {
              var described = admin.describeConfigs(List.of(resource)).all().get().get(resource);
              if (ops.stream().allMatch(op -> {
                ConfigEntry entry = described.get(op.configEntry().name());
                return entry != null && op.configEntry().value().equals(entry.value());
              })) break;
              if (System.currentTimeMillis() > deadline) throw new IllegalStateException("configs of " + args[2] + " not applied: " + described);
              Thread.sleep(50);
            }
            ObjectNode out = JSON.createObjectNode();
            out.put("altered", args[2]);
            print(out);
          }
        }
        case "add-acl" -> {
          if (args.length < 6) usage("add-acl needs <principal> <operation> <resource-type> <resource-name> [--prefixed]");
          boolean prefixed = args.length > 6 && args[6].equals("--prefixed");
          ResourceType type = switch (args[4].toLowerCase()) {
            case "topic" -> ResourceType.TOPIC;
            case "group" -> ResourceType.GROUP;
            case "cluster" -> ResourceType.CLUSTER;
            case "transactional-id" -> ResourceType.TRANSACTIONAL_ID;
            default -> throw new IllegalArgumentException("unknown resource type " + args[4]);
          };
          // Kafka names operations in UPPER_SNAKE case (IdempotentWrite = IDEMPOTENT_WRITE).
          AclOperation operation = AclOperation.fromString(args[3].replaceAll("([a-z])([A-Z])", "$1_$2"));
          if (operation == AclOperation.UNKNOWN) throw new IllegalArgumentException("unknown operation " + args[3]);
          AclBinding binding = new AclBinding(
              new ResourcePattern(type, args[5], prefixed ? PatternType.PREFIXED : PatternType.LITERAL),
              new AccessControlEntry(args[2], "*", operation, AclPermissionType.ALLOW));
          try (Admin admin = admin(bootstrap)) {
            admin.createAcls(List.of(binding)).all().get();
            long deadline = System.currentTimeMillis() + TIMEOUT_MS;
            while (!admin.describeAcls(AclBindingFilter.ANY).values().get().contains(binding)) {
              if (System.currentTimeMillis() > deadline) throw new IllegalStateException("ACL not listed after " + TIMEOUT_MS + " ms: " + binding);
              Thread.sleep(50);
            }
            ObjectNode out = JSON.createObjectNode();
            out.put("acl", binding.toString());
            print(out);
          }
        }
        case "produce" -> produce(bootstrap, args[2]);
        default -> usage("unknown command " + command);
      }
    } catch (Exception error) {
      Throwable cause = error instanceof java.util.concurrent.ExecutionException && error.getCause() != null ? error.getCause() : error;
      System.err.println("KafkaAdmin " + command + ": " + cause);
      System.exit(1);
    }
    System.exit(0);
  }

  private static Admin admin(String bootstrap) {
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(AdminClientConfig.CLIENT_ID_CONFIG, "pgcdc-test-admin");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, String.valueOf(TIMEOUT_MS));
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    return Admin.create(props);
  }

  /** The topic's description, or null when the cluster does not know it (yet). */
  private static TopicDescription describe(Admin admin, String name) throws Exception {
    try {
      return admin.describeTopics(List.of(name)).allTopicNames().get().get(name);
    } catch (java.util.concurrent.ExecutionException error) {
      if (error.getCause() instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException) return null;
      throw error;
    }
  }

  private static ObjectNode json(TopicDescription description) {
    ObjectNode out = JSON.createObjectNode();
    out.put("name", description.name());
    ArrayNode partitions = out.putArray("partitions");
    for (TopicPartitionInfo info : description.partitions()) {
      ObjectNode partition = partitions.addObject();
      partition.put("partition", info.partition());
      if (info.leader() == null || info.leader().isEmpty()) partition.putNull("leader");
      else partition.put("leader", info.leader().id());
      ArrayNode replicas = partition.putArray("replicas");
      for (Node node : info.replicas()) replicas.add(node.id());
      ArrayNode isr = partition.putArray("isr");
      for (Node node : info.isr()) isr.add(node.id());
    }
    return out;
  }

  private static void produce(String bootstrap, String topic) throws Exception {
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ProducerConfig.CLIENT_ID_CONFIG, "pgcdc-test-producer");
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, String.valueOf(TIMEOUT_MS));
    props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    List<Future<RecordMetadata>> sent = new ArrayList<>();
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
         BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null) {
        if (line.isBlank()) continue;
        JsonNode record = JSON.readTree(line);
        JsonNode partition = record.get("partition");
        RecordHeaders headers = new RecordHeaders();
        JsonNode headerNode = record.get("headers");
        if (headerNode != null && headerNode.isObject()) {
          for (Map.Entry<String, JsonNode> header : headerNode.properties()) headers.add(header.getKey(), bytes(header.getValue()));
        }
        sent.add(producer.send(new ProducerRecord<>(topic,
            partition == null || partition.isNull() ? null : partition.asInt(),
            null, bytes(record.get("key")), bytes(record.get("value")), headers)));
      }
      producer.flush();
      for (Future<RecordMetadata> future : sent) {
        RecordMetadata metadata = future.get();
        ObjectNode out = JSON.createObjectNode();
        out.put("partition", metadata.partition());
        out.put("offset", metadata.offset());
        System.out.println(JSON.writeValueAsString(out));
      }
    }
  }

  private static byte[] bytes(JsonNode node) {
    return node == null || node.isNull() ? null : node.asText().getBytes(StandardCharsets.UTF_8);
  }

  private static void print(JsonNode node) throws Exception {
    System.out.println(JSON.writeValueAsString(node));
  }

  private static void usage(String problem) {
    System.err.println("KafkaAdmin: " + problem + "\nusage: KafkaAdmin create-topic|describe-topic|wait-leader|delete-topic|alter-topic-config|add-acl|produce <bootstrap> <topic> ...");
    System.exit(2);
  }
}
