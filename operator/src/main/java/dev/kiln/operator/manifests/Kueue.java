package dev.kiln.operator.manifests;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.SchedulingSpec;
import java.util.LinkedHashMap;
import java.util.Map;

/** In Kueue mode, Jobs carry the queue (and workload priority class) labels and start suspended until Kueue admits them. */
final class Kueue {

  private Kueue() {}

  static boolean enabled(MultimodalPretrainJob job) {
    return job.getSpec().scheduling().mode() == SchedulingSpec.Mode.KUEUE;
  }

  static Map<String, String> jobLabels(MultimodalPretrainJob job, Map<String, String> labels) {
    Map<String, String> jobLabels = new LinkedHashMap<>(labels);
    if (enabled(job)) {
      jobLabels.put(Labels.KUEUE_QUEUE, job.getSpec().scheduling().queue());
      if (job.getSpec().scheduling().workloadPriorityClassName() != null) {
        jobLabels.put(Labels.KUEUE_PRIORITY_CLASS, job.getSpec().scheduling().workloadPriorityClassName());
      }
    }
    return jobLabels;
  }

  /** {@code suspend: true} for Kueue to lift, or unset. */
  static Boolean initialSuspend(MultimodalPretrainJob job) {
    return enabled(job) ? true : null;
  }
}
