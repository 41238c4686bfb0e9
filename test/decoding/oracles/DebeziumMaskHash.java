// Test oracle: hashes values the way Debezium's column.mask.hash(.v2) does, with the JDK's own
// ObjectOutputStream and MessageDigest. Arguments: algorithm, salt (hex of UTF-8), strategy
// (V1 or V2); reads values (hex of UTF-8) one per line from standard input and prints one
// lowercase hex hash per value.
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;

public class DebeziumMaskHash {
    public static void main(String[] args) throws Exception {
        MessageDigest digest = MessageDigest.getInstance(args[0]);
        byte[] salt = HexFormat.of().parseHex(args[1]);
        boolean v1 = args[2].equals("V1");
        BufferedReader lines = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        for (String line = lines.readLine(); line != null; line = lines.readLine()) {
            String value = new String(HexFormat.of().parseHex(line), StandardCharsets.UTF_8);
            byte[] bytes;
            if (v1) {
                ByteArrayOutputStream buffer = new ByteArrayOutputStream();
                try (ObjectOutputStream out = new ObjectOutputStream(buffer)) {
                    out.writeObject(value);
                }
                bytes = buffer.toByteArray();
            } else {
                bytes = value.getBytes(StandardCharsets.UTF_8);
            }
            digest.reset();
            digest.update(salt);
            System.out.println(HexFormat.of().formatHex(digest.digest(bytes)));
        }
    }
}
