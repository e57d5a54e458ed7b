import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads a topic from the beginning with the official Java client until EXPECTED records arrived
 * (or 60 s passed) and prints each value on a line: proof that what spor's producers write
 * (with their compression.type) is readable by every client.
 *   java -cp 'KAFKA_LIB/*' ConsumeAll.java BOOTSTRAP TOPIC EXPECTED
 */
public class ConsumeAll {
  public static void main(String[] args) {
    Properties props = new Properties();
    props.put("bootstrap.servers", args[0]);
    props.put("group.id", "java-reader-" + System.nanoTime());
    props.put("auto.offset.reset", "earliest");
    props.put("enable.auto.commit", "false");
    props.put("isolation.level", "read_committed");
    props.put("key.deserializer", StringDeserializer.class.getName());
    props.put("value.deserializer", StringDeserializer.class.getName());
    int expected = Integer.parseInt(args[2]);
    int seen = 0;
    long deadline = System.currentTimeMillis() + 60_000;
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
      consumer.subscribe(List.of(args[1]));
      while (seen < expected && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
          System.out.println(record.value());
          seen++;
        }
      }
    }
  }
}
