package dev.kiln.operator.manifests;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.ResourcesSpec;
import dev.kiln.api.v1alpha1.SchedulingSpec;
import dev.kiln.api.v1alpha1.TopologySpec;
import java.util.LinkedHashMap;
import java.util.Map;

/** In Kueue mode, Jobs carry the queue (and workload priority class) labels and start suspended until Kueue admits them. */
final class Kueue {

  static final String REQUIRED_TOPOLOGY = "kueue.x-k8s.io/podset-required-topology";
  static final String PREFERRED_TOPOLOGY = "kueue.x-k8s.io/podset-preferred-topology";

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

  /**
   * The pod template's request for Kueue's topology-aware scheduling: all pods on nodes sharing
   * one value of the stage's topology label (required or preferred); null outside Kueue mode,
   * where Kiln's own plan places the pods.
   */
  static Map<String, String> topology(MultimodalPretrainJob job, ResourcesSpec resources) {
    TopologySpec topology = resources.topology();
    if (!enabled(job) || topology == null || resources.gpusPerNode() == 0) {
      return null;
    }
    return topology.required() != null ? Map.of(REQUIRED_TOPOLOGY, topology.required())
        : Map.of(PREFERRED_TOPOLOGY, topology.preferred());
  }

  /** {@code suspend: true} for Kueue to lift, or unset. */
  static Boolean initialSuspend(MultimodalPretrainJob job) {
    return enabled(job) ? true : null;
  }
}
