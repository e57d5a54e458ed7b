import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;

/**
 * Adds (or resets) a SCRAM-SHA-512 and SCRAM-SHA-256 user through the admin API, for a storage
 * formatted before the SASL_SSL listener existed (stack/stack.sh). The password comes from the
 * environment (SPOR_SCRAM_PASSWORD), never from the command line.
 *   java -cp 'KAFKA_LIB/*' ScramUsers.java BOOTSTRAP USER
 */
public class ScramUsers {
  public static void main(String[] args) throws Exception {
    String password = System.getenv("SPOR_SCRAM_PASSWORD");
    if (password == null || password.isEmpty()) throw new IllegalArgumentException("SPOR_SCRAM_PASSWORD is not set");
    Properties props = new Properties();
    props.put("bootstrap.servers", args[0]);
    try (Admin admin = Admin.create(props)) {
      // One request per mechanism: the broker refuses two changes to one user in a request.
      for (ScramMechanism mechanism : List.of(ScramMechanism.SCRAM_SHA_512, ScramMechanism.SCRAM_SHA_256)) {
        admin.alterUserScramCredentials(List.of(
            new UserScramCredentialUpsertion(args[1], new ScramCredentialInfo(mechanism, 8192), password)))
            .all().get();
      }
    }
    System.out.println("scram users ready: " + args[1]);
  }
}
