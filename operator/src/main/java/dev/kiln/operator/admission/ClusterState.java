package dev.kiln.operator.admission;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.TrainingQueue;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.node.v1.RuntimeClass;
import io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClass;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What admission reads: nodes, pods, Kiln's trainer Jobs, jobs, queues, namespaces' labels and
 * PriorityClasses (from informer caches in the operator).
 */
public interface ClusterState {

  List<Node> nodes();

  /** Every pod of the cluster that is not finished: any of them may hold GPUs. */
  List<Pod> pods();

  /**
   * Kiln's stage pods that ended Succeeded: their ranks are done (a stage Job replaces no pod), though
   * the Job controller may not have marked their Job complete yet (it batches pod updates).
   */
  List<Pod> succeededStagePods();

  /** Kiln's trainer Jobs, every namespace. */
  List<Job> trainerJobs();

  /** Every MultimodalPretrainJob: metadata and spec, and of the status at least the phase, the queue and each stage's requeue time. */
  List<MultimodalPretrainJob> jobs();

  Optional<TrainingQueue> queue(String name);

  /** Every TrainingQueue: a queue's cohort is the others that name the same. */
  List<TrainingQueue> queues();

  /** The labels of a namespace (empty when it has none, or is not known): what a queue's namespaceSelector reads. */
  Map<String, String> namespaceLabels(String namespace);

  /** The cluster's PriorityClasses: what a job's priorityClassName stands for. */
  List<PriorityClass> priorityClasses();

  /** The cluster's RuntimeClasses: the overhead and scheduling a stage's pods are admitted with. */
  List<RuntimeClass> runtimeClasses();

  /**
   * A number that changes whenever something may have changed that could turn a plan's "wait"
   * into anything else, so a wait decided at one version holds until the next: every change a
   * plan reads, but a pod created or bound (that only takes room). Empty when this state cannot
   * tell, and every decision is then planned afresh.
   */
  default OptionalLong version() {
    return OptionalLong.empty();
  }

  /**
   * A number that changes whenever the room or the running stages a plan reads may have changed:
   * every change {@link #version} moves with, and pods created or placed. What a plan reads of
   * nodes, pods and trainer Jobs at one such number it would read the same until the next (jobs,
   * read afresh by every plan, move it only as they move the version). Empty when this state
   * cannot tell, and every plan then reads the cluster afresh.
   */
  default OptionalLong changes() {
    return OptionalLong.empty();
  }
}
