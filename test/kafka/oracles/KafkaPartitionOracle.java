// Test oracle: Kafka's own murmur2 partitioning (org.apache.kafka.common.utils.Utils, as the Java
// producer's BuiltInPartitioner uses it). Reads lines "<hex key bytes> <partitions>" on stdin and
// prints "<signed murmur2> <partition>" for each. Run with the Kafka jars on the class path.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.HexFormat;
import org.apache.kafka.common.utils.Utils;

public class KafkaPartitionOracle {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        StringBuilder out = new StringBuilder();
        for (String line; (line = in.readLine()) != null; ) {
            if (line.isEmpty()) continue;
            String[] parts = line.split(" ");
            byte[] key = parts[0].equals("-") ? new byte[0] : HexFormat.of().parseHex(parts[0]);
            int partitions = Integer.parseInt(parts[1]);
            int hash = Utils.murmur2(key);
            out.append(hash).append(' ').append(Utils.toPositive(hash) % partitions).append('\n');
        }
        System.out.print(out);
    }
}
