/*
 * Runs one Kafka KRaft node for the tests, tied to the process that started it: formats its log
 * directory first when asked (kafka.tools.StorageTool, in the same JVM), then runs kafka.Kafka, and
 * halts the JVM at once when its standard input closes, which happens when the test process dies,
 * however it dies, so no broker outlives the tests.
 *
 *   java -cp '.jvm/kafka/lib/*' test/jvm/KafkaBroker.java [--format <cluster-id>]
 *       [--add-scram 'SCRAM-SHA-256=[name=alice,password=alice-secret]' ...] <server.properties>
 *
 * A formatted directory is left as it is (restarts pass --format too). Each --add-scram is passed
 * to the format (StorageTool's own option): in KRaft, SCRAM credentials of the first start are
 * records of the bootstrap metadata. SIGTERM stops the broker gracefully (Kafka's shutdown hook),
 * SIGKILL at once.
 */
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

public class KafkaBroker {
  public static void main(String[] args) throws Exception {
    String clusterId = null;
    List<String> scram = new ArrayList<>();
    int i = 0;
    if (args.length >= 2 && args[0].equals("--format")) {
      clusterId = args[1];
      i = 2;
    }
    while (args.length >= i + 2 && args[i].equals("--add-scram")) {
      scram.add(args[i + 1]);
      i += 2;
    }
    if (args.length != i + 1 || (clusterId == null && !scram.isEmpty())) {
      System.err.println("usage: KafkaBroker [--format <cluster-id> [--add-scram <mechanism>=[name=<user>,password=<password>]] ...] <server.properties>");
      System.exit(2);
    }
    String properties = args[i];

    Thread watch = new Thread(() -> {
      InputStream in = System.in;
      byte[] buffer = new byte[256];
      try {
        while (in.read(buffer) >= 0) {
          // the parent writes nothing; anything read is ignored
        }
      } catch (Exception ignored) {
        // a broken pipe means the same as end of input
      }
      System.err.println("KafkaBroker: standard input closed (the test process is gone); halting");
      Runtime.getRuntime().halt(1);
    }, "parent-watch");
    watch.setDaemon(true);
    watch.start();

    if (clusterId != null) {
      // "--cluster-id=<id>": an id may start with "-", which would read as an option after a space.
      List<String> format = new ArrayList<>(List.of("format", "--cluster-id=" + clusterId, "--config", properties, "--ignore-formatted"));
      for (String credential : scram) {
        format.add("--add-scram");
        format.add(credential);
      }
      int code = kafka.tools.StorageTool.execute(format.toArray(new String[0]), System.out);
      if (code != 0) {
        System.err.println("KafkaBroker: formatting failed with code " + code);
        System.exit(code);
      }
    }
    kafka.Kafka.main(new String[] {properties});
  }
}
