package dev.kiln.datajobs.filter;

import dev.kiln.api.runconfig.PodRoot;
import dev.kiln.model.ComputeDevice;
import dev.kiln.model.mlm.MlmScorer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Parses filter specs as the operator writes them: {@code precomputed:field=F,min=X},
 * {@code uids:FILE}, {@code clip:model=DIR,min=X}, {@code mlm:model=DIR,min=N[,metric=M][,batch=B]} (M one
 * of MLM-Filter's four metrics, {@code semantic_understanding} when unset; B samples answered side
 * by side, {@value #DEFAULT_MLM_BATCH} when unset).
 */
public final class FilterSpecs {

  /** Samples the MLM scorer answers side by side when the spec says no {@code batch}. */
  static final int DEFAULT_MLM_BATCH = 8;

  private FilterSpecs() {}

  public static SampleFilter parse(String spec) {
    return parse(spec, ComputeDevice.cpu());
  }

  /** A filter whose model scorer, if it has one, runs on {@code device}. */
  public static SampleFilter parse(String spec, ComputeDevice device) {
    int colon = spec.indexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException("--filter " + spec + ": expected KIND:ARGS (precomputed, uids, clip, mlm)");
    }
    String kind = spec.substring(0, colon);
    String args = spec.substring(colon + 1);
    return switch (kind) {
      case "precomputed" -> {
        Map<String, String> kv = keyValues(spec, args);
        yield new PrecomputedScoreFilter(required(spec, kv, "field"), number(spec, required(spec, kv, "min")));
      }
      case "uids" -> new UidListFilter(args, UidSet.load(PodRoot.fromEnvironment().resolve(args)));
      case "clip" -> {
        Map<String, String> kv = keyValues(spec, args);
        yield new ClipScoreFilter(spec, PodRoot.fromEnvironment().resolve(required(spec, kv, "model")),
            number(spec, required(spec, kv, "min")), device);
      }
      case "mlm" -> {
        Map<String, String> kv = keyValues(spec, args);
        String metric = kv.getOrDefault("metric", "semantic_understanding");
        String prompt = MlmScorer.PROMPTS.get(metric);
        if (prompt == null) {
          throw new IllegalArgumentException("--filter " + spec + ": unknown metric \"" + metric + "\" (one of "
              + String.join(", ", new java.util.TreeSet<>(MlmScorer.PROMPTS.keySet())) + ")");
        }
        int batch = (int) number(spec, kv.getOrDefault("batch", Integer.toString(DEFAULT_MLM_BATCH)));
        if (batch < 1) {
          throw new IllegalArgumentException("--filter " + spec + ": batch must be at least 1");
        }
        yield new MlmScoreFilter(spec, PodRoot.fromEnvironment().resolve(required(spec, kv, "model")),
            (int) number(spec, required(spec, kv, "min")), prompt, batch, device);
      }
      default -> throw new IllegalArgumentException("--filter " + spec + ": unknown filter kind \"" + kind
          + "\" (precomputed, uids, clip, mlm)");
    };
  }

  private static Map<String, String> keyValues(String spec, String args) {
    Map<String, String> kv = new LinkedHashMap<>();
    for (String part : args.split(",")) {
      int eq = part.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("--filter " + spec + ": expected key=value, found \"" + part + "\"");
      }
      kv.put(part.substring(0, eq).strip(), part.substring(eq + 1).strip());
    }
    return kv;
  }

  private static String required(String spec, Map<String, String> kv, String key) {
    String value = kv.get(key);
    if (value == null || value.isEmpty()) {
      throw new IllegalArgumentException("--filter " + spec + ": missing " + key + "=");
    }
    return value;
  }

  private static double number(String spec, String value) {
    try {
      return Double.parseDouble(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--filter " + spec + ": not a number: " + value);
    }
  }
}
