// Checks lifecycle policies with Elasticsearch's own ILM model (x-pack-core), the code a cluster
// with ILM runs on `PUT _ilm/policy/<name>`: the policy is parsed with every ILM action and the
// `timeseries` lifecycle type registered, then validated (known actions, allowed in their phase,
// valid min_age, phase order, policy name). The local test node has no ILM; this proves a cluster with ILM
// would accept spor's policies.
//
// Run (single-file source program, JDK >= 21):
//   java -cp "$ES_HOME/lib/*:$ES_HOME/modules/x-pack-core/*" ValidatePolicy policies.json
// where policies.json is an object {"<policy name>": <policy body as for PUT _ilm/policy>, ...}.
// Prints one line per policy, `OK <name>` or `INVALID <name>: <Elasticsearch's message>`;
// exits 0 when all are valid, 1 when one is not, 2 on bad usage or unreadable input.

import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.elasticsearch.xcontent.NamedXContentRegistry;
import org.elasticsearch.xcontent.ParseField;
import org.elasticsearch.xcontent.XContentParser;
import org.elasticsearch.xcontent.XContentParserConfiguration;
import org.elasticsearch.xcontent.json.JsonXContent;
import org.elasticsearch.xpack.core.ilm.LifecycleAction;
import org.elasticsearch.xpack.core.ilm.LifecyclePolicy;
import org.elasticsearch.xpack.core.ilm.LifecycleType;
import org.elasticsearch.xpack.core.ilm.TimeseriesLifecycleType;

public class ValidatePolicy {
  // Every action class of the ILM model; each has a static NAME and a static parse(XContentParser).
  static final String[] ACTIONS = {
    "AllocateAction", "DeleteAction", "DownsampleAction", "ForceMergeAction", "FreezeAction",
    "MigrateAction", "ReadOnlyAction", "RolloverAction", "SearchableSnapshotAction",
    "SetPriorityAction", "ShrinkAction", "UnfollowAction", "WaitForSnapshotAction",
  };

  static NamedXContentRegistry registry() throws Exception {
    List<NamedXContentRegistry.Entry> entries = new ArrayList<>();
    entries.add(
        new NamedXContentRegistry.Entry(
            LifecycleType.class,
            new ParseField(TimeseriesLifecycleType.TYPE),
            p -> TimeseriesLifecycleType.INSTANCE));
    for (String simple : ACTIONS) {
      Class<?> cls = Class.forName("org.elasticsearch.xpack.core.ilm." + simple);
      String name = (String) cls.getField("NAME").get(null);
      Method parse = cls.getMethod("parse", XContentParser.class);
      entries.add(
          new NamedXContentRegistry.Entry(
              LifecycleAction.class,
              new ParseField(name),
              p -> {
                try {
                  return (LifecycleAction) parse.invoke(null, p);
                } catch (java.lang.reflect.InvocationTargetException e) {
                  if (e.getCause() instanceof RuntimeException r) throw r;
                  throw new java.io.IOException(e.getCause());
                } catch (IllegalAccessException e) {
                  throw new IllegalStateException(e);
                }
              }));
    }
    return new NamedXContentRegistry(entries);
  }

  /** The innermost message: ES wraps parse errors as "[phases] failed to parse ..." chains. */
  static String message(Throwable error) {
    StringBuilder text = new StringBuilder();
    for (Throwable t = error; t != null; t = t.getCause()) {
      if (t.getMessage() == null) continue;
      if (text.length() > 0) text.append(" <- ");
      text.append(t.getMessage());
    }
    return text.toString().replace('\n', ' ');
  }

  @SuppressWarnings("unchecked")
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: ValidatePolicy <policies.json>  ({\"name\": policy, ...})");
      System.exit(2);
    }
    NamedXContentRegistry registry = registry();
    XContentParserConfiguration config = XContentParserConfiguration.EMPTY.withRegistry(registry);
    Map<String, Object> all;
    try (XContentParser parser = JsonXContent.jsonXContent.createParser(config, Files.readString(Path.of(args[0])))) {
      all = parser.mapOrdered();
    } catch (Exception e) {
      System.err.println("cannot read " + args[0] + ": " + message(e));
      System.exit(2);
      return;
    }
    boolean allValid = true;
    for (String name : all.keySet()) {
      String body;
      try (var builder = org.elasticsearch.xcontent.XContentFactory.jsonBuilder()) {
        builder.map((Map<String, ?>) all.get(name));
        body = org.elasticsearch.common.Strings.toString(builder);
      }
      try (XContentParser parser = JsonXContent.jsonXContent.createParser(config, body)) {
        LifecyclePolicy.validatePolicyName(name);
        LifecyclePolicy policy = LifecyclePolicy.parse(parser, name);
        policy.validate();
        // PUT _ilm/policy also refuses phases whose min_age goes backwards (request validation).
        String timing =
            TimeseriesLifecycleType.validateMonotonicallyIncreasingPhaseTimings(policy.getPhases().values());
        if (timing != null && !timing.isEmpty()) throw new IllegalArgumentException(timing);
        System.out.println("OK " + name);
      } catch (Exception e) {
        allValid = false;
        System.out.println("INVALID " + name + ": " + message(e));
      }
    }
    System.exit(allValid ? 0 : 1);
  }
}
