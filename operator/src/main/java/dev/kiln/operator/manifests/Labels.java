package dev.kiln.operator.manifests;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.util.LinkedHashMap;
import java.util.Map;

/** Labels on every child: how the operator lists them and how users select them. */
public final class Labels {

  public static final String NAME = "app.kubernetes.io/name";
  public static final String COMPONENT = "app.kubernetes.io/component";
  public static final String MANAGED_BY = "app.kubernetes.io/managed-by";
  public static final String JOB = "kiln.dev/job";
  public static final String STAGE = "kiln.dev/stage";
  public static final String ATTEMPT = "kiln.dev/attempt";
  public static final String SOURCE = "kiln.dev/source";
  /** Which packing step a pack Job runs: prepare, plan, write or finish. */
  public static final String PACK_STEP = "kiln.dev/pack-step";
  public static final String KUEUE_QUEUE = "kueue.x-k8s.io/queue-name";
  public static final String KUEUE_PRIORITY_CLASS = "kueue.x-k8s.io/priority-class";
  public static final String MANAGER = "kiln-operator";

  /** Components, one per kind of child. */
  public static final String TRAINER = "trainer";
  public static final String FILTER = "filter";
  public static final String PACK = "pack";
  public static final String SAMPLE_DATA = "sample-data";
  public static final String WORKSPACE = "workspace";

  private Labels() {}

  /** The value of label {@code key} on {@code object}, or null when it has none. */
  public static String get(HasMetadata object, String key) {
    Map<String, String> labels = object.getMetadata().getLabels();
    return labels == null ? null : labels.get(key);
  }

  public static Map<String, String> of(MultimodalPretrainJob job, String component) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(NAME, "kiln");
    labels.put(COMPONENT, component);
    labels.put(MANAGED_BY, MANAGER);
    labels.put(JOB, job.getMetadata().getName());
    return labels;
  }

  public static Map<String, String> stage(MultimodalPretrainJob job, String stage) {
    Map<String, String> labels = of(job, TRAINER);
    labels.put(STAGE, stage);
    return labels;
  }

  public static Map<String, String> attempt(MultimodalPretrainJob job, String stage, int attempt) {
    Map<String, String> labels = stage(job, stage);
    labels.put(ATTEMPT, Integer.toString(attempt));
    return labels;
  }
}
