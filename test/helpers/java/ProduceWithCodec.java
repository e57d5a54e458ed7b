import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Produces records with the official Java client and a given compression.type, the way a user's
 * service does. Run as a single-file program on Kafka's jars:
 *   java -cp 'KAFKA_LIB/*' ProduceWithCodec.java BOOTSTRAP TOPIC [CLIENT_PROPERTIES_FILE] < records
 * stdin: one record per line, "codec<TAB>key<TAB>value"; one producer per codec
 * (compression.type = codec), records of a codec go into as few batches as possible (linger,
 * one flush). Prints "codec partition offset" per record once acknowledged.
 */
public class ProduceWithCodec {
  public static void main(String[] args) throws Exception {
    Map<String, List<String[]>> byCodec = new LinkedHashMap<>();
    BufferedReader reader = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = reader.readLine()) != null; ) {
      if (line.isEmpty()) continue;
      String[] parts = line.split("\t", 3);
      byCodec.computeIfAbsent(parts[0], k -> new ArrayList<>()).add(parts);
    }
    for (Map.Entry<String, List<String[]>> entry : byCodec.entrySet()) {
      Properties props = new Properties();
      props.put("bootstrap.servers", args[0]);
      props.put("compression.type", entry.getKey());
      props.put("acks", "all");
      props.put("enable.idempotence", "true");
      // Long: all of a codec's records go into one batch even on a loaded machine; flush() sends at once.
      props.put("linger.ms", "5000");
      props.put("batch.size", "1048576");
      props.put("key.serializer", StringSerializer.class.getName());
      props.put("value.serializer", StringSerializer.class.getName());
      if (args.length > 2) {
        try (FileInputStream in = new FileInputStream(args[2])) {
          props.load(in);
        }
      }
      List<Future<RecordMetadata>> sent = new ArrayList<>();
      try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
        for (String[] record : entry.getValue()) {
          sent.add(producer.send(new ProducerRecord<>(args[1], record[1], record[2])));
        }
        producer.flush();
        for (Future<RecordMetadata> f : sent) {
          RecordMetadata m = f.get();
          System.out.println(entry.getKey() + " " + m.partition() + " " + m.offset());
        }
      }
    }
  }
}
