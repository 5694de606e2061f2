package dev.kiln.operator.cache;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.ContainerState;
import io.fabric8.kubernetes.api.model.ContainerStateRunning;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStateWaiting;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodSchedulingGate;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.api.model.batch.v1.JobSpec;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatus;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Pods' and Jobs' cached copies, built field by field straight into compact objects: only what
 * the operator reads, every list and map read-only and no larger than its contents, the strings
 * that repeat across objects interned. An informer's one thread makes such a copy for each watch
 * event, and in a burst of pod events it was that thread's bottleneck when the copy was the
 * whole object walked reflectively: about 36 µs a pod on the client compiler the chart runs,
 * against about 4 µs this way. The model classes allocate every list and map field up front, so
 * each object built here sets them all; {@code CachedCopiesTest} walks a copy to check that none
 * is left behind.
 */
final class CompactCopy {

  private CompactCopy() {}

  /** Metadata, the spec's placement and resources, and the status the lifecycle reads (or only its phase). */
  static Pod pod(Pod pod, boolean lifecycleStatus) {
    Pod copy = new Pod();
    copy.setMetadata(metadata(pod.getMetadata()));
    copy.setSpec(spec(pod.getSpec()));
    copy.setStatus(lifecycleStatus ? status(pod.getStatus()) : phase(pod.getStatus()));
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  /** Metadata, suspend, parallelism and completions (not the pod template), and the status. */
  static Job job(Job job) {
    JobSpec spec = new JobSpec();
    if (job.getSpec() != null) {
      spec.setSuspend(job.getSpec().getSuspend());
      spec.setParallelism(job.getSpec().getParallelism());
      spec.setCompletions(job.getSpec().getCompletions());
    }
    spec.setAdditionalProperties(Map.of());
    Job copy = new Job();
    copy.setMetadata(metadata(job.getMetadata()));
    copy.setSpec(spec);
    copy.setStatus(status(job.getStatus()));
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  /** All of it but the uids of pods the Job controller has yet to count. */
  private static JobStatus status(JobStatus status) {
    if (status == null) {
      return null;
    }
    JobStatus copy = new JobStatus();
    copy.setActive(status.getActive());
    copy.setReady(status.getReady());
    copy.setSucceeded(status.getSucceeded());
    copy.setFailed(status.getFailed());
    copy.setTerminating(status.getTerminating());
    copy.setStartTime(interned(status.getStartTime()));
    copy.setCompletionTime(interned(status.getCompletionTime()));
    copy.setCompletedIndexes(interned(status.getCompletedIndexes()));
    copy.setFailedIndexes(interned(status.getFailedIndexes()));
    copy.setConditions(list(status.getConditions(), CompactCopy::condition));
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  private static JobCondition condition(JobCondition condition) {
    JobCondition copy = new JobCondition(interned(condition.getLastProbeTime()),
        interned(condition.getLastTransitionTime()), interned(condition.getMessage()), interned(condition.getReason()),
        interned(condition.getStatus()), interned(condition.getType()));
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  /** Name, generation, namespace, uid, version, creation and deletion, labels, annotations and owners. */
  static ObjectMeta metadata(ObjectMeta meta) {
    ObjectMeta copy = new ObjectMeta();
    copy.setName(meta.getName());
    copy.setGeneration(meta.getGeneration());
    copy.setNamespace(interned(meta.getNamespace()));
    copy.setUid(meta.getUid());
    copy.setResourceVersion(meta.getResourceVersion());
    copy.setCreationTimestamp(interned(meta.getCreationTimestamp()));
    copy.setDeletionTimestamp(interned(meta.getDeletionTimestamp()));
    copy.setLabels(strings(meta.getLabels()));
    copy.setAnnotations(strings(meta.getAnnotations()));
    copy.setOwnerReferences(list(meta.getOwnerReferences(), CompactCopy::owner));
    copy.setFinalizers(List.of());
    copy.setManagedFields(List.of());
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  private static OwnerReference owner(OwnerReference owner) {
    OwnerReference copy = new OwnerReference(interned(owner.getApiVersion()), owner.getBlockOwnerDeletion(),
        owner.getController(), interned(owner.getKind()), interned(owner.getName()), interned(owner.getUid()));
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  /** Node, selector and gates (to place a gated pod), overhead and each container's resources and ports. */
  private static PodSpec spec(PodSpec spec) {
    PodSpec copy = new PodSpec();
    copy.setContainers(List.of());
    copy.setEphemeralContainers(List.of());
    copy.setHostAliases(List.of());
    copy.setImagePullSecrets(List.of());
    copy.setInitContainers(List.of());
    copy.setNodeSelector(Map.of());
    copy.setOverhead(Map.of());
    copy.setReadinessGates(List.of());
    copy.setResourceClaims(List.of());
    copy.setSchedulingGates(List.of());
    copy.setTolerations(List.of());
    copy.setTopologySpreadConstraints(List.of());
    copy.setVolumes(List.of());
    copy.setAdditionalProperties(Map.of());
    if (spec != null) {
      copy.setNodeName(interned(spec.getNodeName()));
      copy.setNodeSelector(strings(spec.getNodeSelector()));
      copy.setSchedulingGates(list(spec.getSchedulingGates(), CompactCopy::gate));
      copy.setOverhead(quantities(spec.getOverhead()));
      copy.setContainers(list(spec.getContainers(), CompactCopy::container));
      copy.setInitContainers(list(spec.getInitContainers(), CompactCopy::container));
    }
    return copy;
  }

  private static PodSchedulingGate gate(PodSchedulingGate gate) {
    PodSchedulingGate copy = new PodSchedulingGate(interned(gate.getName()));
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  /** Name, resources, ports, and the restart policy that makes an init container a sidecar. */
  private static Container container(Container container) {
    Container copy = new Container();
    copy.setName(interned(container.getName()));
    copy.setRestartPolicy(interned(container.getRestartPolicy()));
    copy.setResources(resources(container.getResources()));
    copy.setPorts(list(container.getPorts(), CompactCopy::port));
    copy.setArgs(List.of());
    copy.setCommand(List.of());
    copy.setEnv(List.of());
    copy.setEnvFrom(List.of());
    copy.setResizePolicy(List.of());
    copy.setRestartPolicyRules(List.of());
    copy.setVolumeDevices(List.of());
    copy.setVolumeMounts(List.of());
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  private static ResourceRequirements resources(ResourceRequirements resources) {
    if (resources == null) {
      return null;
    }
    ResourceRequirements copy = new ResourceRequirements(List.of(), quantities(resources.getLimits()),
        quantities(resources.getRequests()));
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  private static ContainerPort port(ContainerPort port) {
    ContainerPort copy = new ContainerPort(port.getContainerPort(), interned(port.getHostIP()), port.getHostPort(),
        interned(port.getName()), interned(port.getProtocol()));
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  private static PodStatus phase(PodStatus status) {
    PodStatus copy = emptyStatus();
    copy.setPhase(status == null ? null : interned(status.getPhase()));
    return copy;
  }

  /**
   * Phase, reason and message, pod IP and start time, conditions, and each container's imageID and
   * state (waiting reasons, exit codes and termination messages).
   */
  private static PodStatus status(PodStatus status) {
    if (status == null) {
      return null;
    }
    PodStatus copy = emptyStatus();
    copy.setPhase(interned(status.getPhase()));
    copy.setReason(interned(status.getReason()));
    copy.setMessage(status.getMessage());
    copy.setPodIP(status.getPodIP());
    copy.setStartTime(interned(status.getStartTime()));
    copy.setConditions(list(status.getConditions(), CompactCopy::condition));
    copy.setContainerStatuses(list(status.getContainerStatuses(), CompactCopy::containerStatus));
    copy.setInitContainerStatuses(list(status.getInitContainerStatuses(), CompactCopy::containerStatus));
    return copy;
  }

  private static PodStatus emptyStatus() {
    PodStatus copy = new PodStatus();
    copy.setConditions(List.of());
    copy.setContainerStatuses(List.of());
    copy.setEphemeralContainerStatuses(List.of());
    copy.setHostIPs(List.of());
    copy.setInitContainerStatuses(List.of());
    copy.setPodIPs(List.of());
    copy.setResourceClaimStatuses(List.of());
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  private static PodCondition condition(PodCondition condition) {
    PodCondition copy = new PodCondition();
    copy.setType(interned(condition.getType()));
    copy.setStatus(interned(condition.getStatus()));
    copy.setReason(interned(condition.getReason()));
    copy.setMessage(interned(condition.getMessage()));
    copy.setLastTransitionTime(interned(condition.getLastTransitionTime()));
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  private static ContainerStatus containerStatus(ContainerStatus status) {
    ContainerStatus copy = new ContainerStatus();
    copy.setName(interned(status.getName()));
    copy.setImageID(interned(status.getImageID()));
    copy.setReady(status.getReady());
    copy.setRestartCount(status.getRestartCount());
    copy.setState(state(status.getState()));
    copy.setLastState(state(status.getLastState()));
    copy.setAllocatedResources(Map.of());
    copy.setAllocatedResourcesStatus(List.of());
    copy.setVolumeMounts(List.of());
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  private static ContainerState state(ContainerState state) {
    if (state == null) {
      return null;
    }
    ContainerState copy = new ContainerState(running(state.getRunning()), terminated(state.getTerminated()),
        waiting(state.getWaiting()));
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  private static ContainerStateRunning running(ContainerStateRunning running) {
    if (running == null) {
      return null;
    }
    ContainerStateRunning copy = new ContainerStateRunning(interned(running.getStartedAt()));
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  private static ContainerStateWaiting waiting(ContainerStateWaiting waiting) {
    if (waiting == null) {
      return null;
    }
    ContainerStateWaiting copy = new ContainerStateWaiting(interned(waiting.getMessage()), interned(waiting.getReason()));
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  /** All of it: the exit code and signal say how it ended, the message is the trainer's summary. */
  private static ContainerStateTerminated terminated(ContainerStateTerminated terminated) {
    if (terminated == null) {
      return null;
    }
    ContainerStateTerminated copy = new ContainerStateTerminated(terminated.getContainerID(), terminated.getExitCode(),
        interned(terminated.getFinishedAt()), terminated.getMessage(), interned(terminated.getReason()),
        terminated.getSignal(), interned(terminated.getStartedAt()));
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  private static Map<String, String> strings(Map<String, String> map) {
    return map == null || map.isEmpty() ? Map.of() : ArrayMap.copyOf(map, CompactCopy::interned, CompactCopy::interned);
  }

  private static Map<String, Quantity> quantities(Map<String, Quantity> map) {
    return map == null || map.isEmpty() ? Map.of() : ArrayMap.copyOf(map, CompactCopy::interned, CompactCopy::quantity);
  }

  private static Quantity quantity(Quantity quantity) {
    Quantity copy = new Quantity(interned(quantity.getAmount()), interned(quantity.getFormat()));
    copy.setAdditionalProperties(Map.of());
    return copy;
  }

  /** Each element copied, read-only; the shared empty list for none. */
  private static <T> List<T> list(List<T> list, Function<T, T> copy) {
    if (list == null || list.isEmpty()) {
      return List.of();
    }
    List<T> copies = new ArrayList<>(list.size());
    for (T element : list) {
      copies.add(element == null ? null : copy.apply(element));
    }
    // List.copyOf refuses a null element, which only a hand-built object would hold.
    return copies.contains(null) ? Collections.unmodifiableList(copies) : List.copyOf(copies);
  }

  private static String interned(String string) {
    return string == null ? null : string.intern();
  }
}
