package dev.kiln.local;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Runs the pods bound to the local nodes (as processes, {@link Container}) and reports their
 * status as a kubelet does: Running, then Succeeded or Failed with the exit code, reason and
 * termination message; ErrImagePull for an image it cannot run; Evicted with a DisruptionTarget
 * condition when evicted. A pod deleted from the API server has its process stopped.
 */
final class Kubelet {

  /** Kubernetes' default terminationGracePeriodSeconds, for pods that do not set one. */
  static final long GRACE_SECONDS = 30;

  private final KubernetesClient client;
  private final ImageCatalog images;
  private final ContainerRuntime runtime;
  private final Volumes volumes;
  private final Path podsFolder;
  private final Map<String, Running> running = new ConcurrentHashMap<>();
  /** Nodes whose machine is gone: nothing runs or reports there any more. */
  private final Set<String> lostNodes = ConcurrentHashMap.newKeySet();
  private final Set<String> evictions = ConcurrentHashMap.newKeySet();
  private final Set<String> stopping = ConcurrentHashMap.newKeySet();
  private final Set<String> refused = ConcurrentHashMap.newKeySet();
  private final Set<String> attachWaiting = ConcurrentHashMap.newKeySet();
  private final PodAddresses addresses = new PodAddresses();

  private record Running(Pod pod, ContainerRuntime.RunningContainer container, String startedAt) {}

  Kubelet(KubernetesClient client, ImageCatalog images, ContainerRuntime runtime, Volumes volumes, Path podsFolder) {
    this.client = client;
    this.images = images;
    this.runtime = runtime;
    this.volumes = volumes;
    this.podsFolder = podsFolder;
  }

  /** SIGTERM first, SIGKILL after the pod's terminationGracePeriodSeconds, as a kubelet stops a container. */
  static long gracePeriod(Pod pod) {
    Long seconds = pod.getSpec().getTerminationGracePeriodSeconds();
    return seconds != null ? seconds : GRACE_SECONDS;
  }

  void sync(Snapshot snapshot) throws IOException {
    Map<String, Pod> byUid = new HashMap<>();
    snapshot.pods().forEach(p -> byUid.put(p.getMetadata().getUid(), p));
    for (var entry : List.copyOf(running.entrySet())) {
      Running run = entry.getValue();
      Pod current = byUid.get(entry.getKey());
      if (current == null) {
        run.container().kill(false, gracePeriod(run.pod()));
        running.remove(entry.getKey());
      } else if (!run.container().alive()) {
        finish(run);
        running.remove(entry.getKey());
        stopping.remove(entry.getKey());
      } else if (JobController.deleting(current) && stopping.add(entry.getKey())) {
        // Deleted but kept by a finalizer: stopped as a kubelet stops it, then reported Failed.
        run.container().kill(false, gracePeriod(current));
      }
    }
    for (Pod pod : snapshot.pods()) {
      String uid = pod.getMetadata().getUid();
      if (pod.getSpec().getNodeName() == null || lostNodes.contains(pod.getSpec().getNodeName())
          || JobController.terminal(pod) || running.containsKey(uid)
          || "Running".equals(JobController.phase(pod)) && !JobController.deleting(pod)) {
        continue;
      }
      if (JobController.deleting(pod)) {
        writeNeverRan(pod);
      } else if (!refused.contains(uid)) {
        start(snapshot, pod);
      }
    }
  }

  private void start(Snapshot snapshot, Pod pod) throws IOException {
    String image = pod.getSpec().getContainers().getFirst().getImage();
    var program = images.program(image);
    if (program.isEmpty()) {
      refused.add(pod.getMetadata().getUid());
      writeWaiting(pod, "ErrImagePull", "image " + image + " is not one of Kiln's images ("
          + String.join(", ", ImageCatalog.MAIN_CLASSES.keySet()) + "); the local node runs only those");
      return;
    }
    Map<String, Path> claims = new HashMap<>();
    String namespace = pod.getMetadata().getNamespace();
    for (var volume : pod.getSpec().getVolumes()) {
      if (volume.getPersistentVolumeClaim() != null) {
        String claim = volume.getPersistentVolumeClaim().getClaimName();
        if (!volumes.bound(snapshot, namespace, claim)) {
          return;  // waits, as a pod does for an unbound claim
        }
        claims.put(claim, volumes.folder(namespace, claim));
      }
    }
    String conflict = multiAttachConflict(pod, snapshot.claims(), running.values().stream().map(Running::pod).toList());
    if (conflict != null) {
      // A real node would keep the pod ContainerCreating until the volume is detached elsewhere.
      if (attachWaiting.add(pod.getMetadata().getUid())) {
        writeWaiting(pod, "ContainerCreating", conflict);
        warn(pod, "FailedAttachVolume", conflict);
      }
      return;
    }
    attachWaiting.remove(pod.getMetadata().getUid());
    Path folder = podsFolder.resolve(namespace).resolve(pod.getMetadata().getName());
    String ip = addresses.of(pod.getMetadata().getUid());
    ContainerRuntime.RunningContainer container = runtime.start(pod, folder, ip, program.get(), claims);
    String now = Instant.now().toString();
    running.put(pod.getMetadata().getUid(), new Running(pod, container, now));
    client.pods().inNamespace(namespace).withName(pod.getMetadata().getName()).editStatus(p -> {
      var status = p.getStatus();
      status.setPhase("Running");
      status.setStartTime(now);
      status.setPodIP(ip);
      status.setHostIP("127.0.0.1");
      status.setConditions(conditions(p, "Ready", "True"));
      status.setContainerStatuses(List.of(new ContainerStatusBuilder()
          .withName(p.getSpec().getContainers().getFirst().getName()).withImage(image).withReady(true).withStarted(true)
          .withNewState().withNewRunning().withStartedAt(now).endRunning().endState().build()));
      return p;
    });
  }

  private void finish(Running run) throws IOException {
    Pod pod = run.pod();
    String uid = pod.getMetadata().getUid();
    int exitCode = run.container().exitCode();
    boolean evicted = evictions.remove(uid);
    String message = run.container().terminationMessage(exitCode);
    String now = Instant.now().toString();
    client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName()).editStatus(p -> {
      var status = p.getStatus();
      status.setPhase(exitCode == 0 && !evicted ? "Succeeded" : "Failed");
      List<PodCondition> conditions = conditions(p, "Ready", "False");
      if (evicted) {
        status.setReason("Evicted");
        status.setMessage("The node was low on resource (evicted by the local node)");
        conditions.add(new PodConditionBuilder().withType("DisruptionTarget").withStatus("True")
            .withReason("TerminationByKubelet").withLastTransitionTime(now).build());
      }
      status.setConditions(conditions);
      ContainerStatus container = new ContainerStatusBuilder()
          .withName(p.getSpec().getContainers().getFirst().getName()).withImage(p.getSpec().getContainers().getFirst().getImage())
          .withReady(false).withStarted(false)
          .withNewState().withNewTerminated().withExitCode(exitCode).withReason(exitCode == 0 ? "Completed" : "Error")
          .withMessage(message.isEmpty() ? null : message).withStartedAt(run.startedAt()).withFinishedAt(now)
          .endTerminated().endState().build();
      status.setContainerStatuses(List.of(container));
      return p;
    });
  }

  /**
   * Why {@code pod} cannot mount its claims on its node now, or null: a claim that only one node
   * may attach ({@code ReadWriteOnce}; one pod for {@code ReadWriteOncePod}) while a running pod
   * on another node uses it. {@code ReadWriteMany} goes anywhere, {@code ReadOnlyMany} anywhere
   * that mounts it read-only.
   */
  static String multiAttachConflict(Pod pod, List<PersistentVolumeClaim> claims, List<Pod> runningPods) {
    String namespace = pod.getMetadata().getNamespace();
    String node = pod.getSpec().getNodeName();
    for (var volume : pod.getSpec().getVolumes()) {
      var source = volume.getPersistentVolumeClaim();
      if (source == null) {
        continue;
      }
      List<String> modes = claims.stream().filter(c -> namespace.equals(c.getMetadata().getNamespace())
              && source.getClaimName().equals(c.getMetadata().getName()))
          .findFirst().map(c -> c.getSpec().getAccessModes()).orElse(List.of());
      if (modes.contains("ReadWriteMany")) {
        continue;
      }
      boolean onePod = modes.equals(List.of("ReadWriteOncePod"));
      boolean readOnly = Boolean.TRUE.equals(source.getReadOnly());
      List<String> users = new ArrayList<>();
      for (Pod other : runningPods) {
        if (other.getMetadata().getUid().equals(pod.getMetadata().getUid())
            || !namespace.equals(other.getMetadata().getNamespace())) {
          continue;
        }
        for (var otherVolume : other.getSpec().getVolumes()) {
          var otherSource = otherVolume.getPersistentVolumeClaim();
          if (otherSource == null || !otherSource.getClaimName().equals(source.getClaimName())) {
            continue;
          }
          boolean sharedReadOnly = modes.contains("ReadOnlyMany") && readOnly && Boolean.TRUE.equals(otherSource.getReadOnly());
          if (onePod || (!sharedReadOnly && !Objects.equals(node, other.getSpec().getNodeName()))) {
            users.add(other.getMetadata().getName());
          }
        }
      }
      if (!users.isEmpty()) {
        return "Multi-Attach error for volume \"" + source.getClaimName() + "\" (" + String.join(", ", modes)
            + ") Volume is already used by pod(s) " + String.join(", ", users) + " on another node";
      }
    }
    return null;
  }

  /** A Warning event on a pod, as the kubelet reports what keeps a pod from starting. */
  private void warn(Pod pod, String reason, String message) {
    String now = Instant.now().toString();
    client.v1().events().inNamespace(pod.getMetadata().getNamespace()).resource(new EventBuilder()
        .withNewMetadata().withGenerateName(pod.getMetadata().getName() + ".").endMetadata()
        .withNewInvolvedObject().withKind("Pod").withApiVersion("v1").withNamespace(pod.getMetadata().getNamespace())
          .withName(pod.getMetadata().getName()).withUid(pod.getMetadata().getUid()).endInvolvedObject()
        .withType("Warning").withReason(reason).withMessage(message).withCount(1)
        .withFirstTimestamp(now).withLastTimestamp(now).withNewSource().withComponent("kubelet")
          .withHost(pod.getSpec().getNodeName()).endSource()
        .build()).create();
  }

  /** A deleted pod this node never ran (or lost track of) ends Failed, so that its Job can count it. */
  private void writeNeverRan(Pod pod) {
    client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName()).editStatus(p -> {
      p.getStatus().setPhase("Failed");
      p.getStatus().setConditions(conditions(p, "Ready", "False"));
      return p;
    });
  }

  private void writeWaiting(Pod pod, String reason, String message) {
    client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName()).editStatus(p -> {
      p.getStatus().setContainerStatuses(List.of(new ContainerStatusBuilder()
          .withName(p.getSpec().getContainers().getFirst().getName()).withImage(p.getSpec().getContainers().getFirst().getImage())
          .withReady(false).withNewState().withNewWaiting().withReason(reason).withMessage(message).endWaiting().endState()
          .build()));
      return p;
    });
  }

  private static List<PodCondition> conditions(Pod pod, String type, String value) {
    List<PodCondition> conditions = new ArrayList<>(pod.getStatus().getConditions() == null ? List.of()
        : pod.getStatus().getConditions().stream().filter(c -> !type.equals(c.getType())).toList());
    conditions.add(new PodConditionBuilder().withType(type).withStatus(value)
        .withLastTransitionTime(Instant.now().toString()).build());
    return conditions;
  }

  /** Evicts a pod: its process is stopped and it fails with reason Evicted. */
  boolean evict(Pod pod) {
    Running run = running.get(pod.getMetadata().getUid());
    if (run == null) {
      return false;
    }
    evictions.add(pod.getMetadata().getUid());
    run.container().kill(false, gracePeriod(run.pod()));
    return true;
  }

  /** Kills a pod's process at once (SIGKILL, exit 137), as a crash or the OOM killer would. */
  boolean kill(Pod pod) {
    Running run = running.get(pod.getMetadata().getUid());
    if (run == null) {
      return false;
    }
    run.container().kill(true, 0);
    return true;
  }

  /**
   * The node's machine is gone: its containers die with it and nothing is reported (there is no
   * kubelet left to report); pods bound to it are never started. Returns how many were running.
   */
  int lose(String node) {
    lostNodes.add(node);
    int lost = 0;
    for (var entry : List.copyOf(running.entrySet())) {
      if (node.equals(entry.getValue().pod().getSpec().getNodeName())) {
        entry.getValue().container().kill(true, 0);
        running.remove(entry.getKey());
        lost++;
      }
    }
    return lost;
  }

  Path folder(Pod pod) {
    return podsFolder.resolve(pod.getMetadata().getNamespace()).resolve(pod.getMetadata().getName());
  }

  /**
   * Stops every container as a node shutting down does: SIGTERM (a trainer finishes its step and
   * checkpoints), then SIGKILL for what still runs after {@code graceSeconds} or its pod's grace
   * period, whichever is shorter.
   */
  void stopAll(long graceSeconds) {
    List<Running> all = List.copyOf(running.values());
    running.clear();
    all.forEach(r -> r.container().kill(false, Math.min(graceSeconds, gracePeriod(r.pod()))));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(graceSeconds);
    try {
      while (all.stream().anyMatch(r -> r.container().alive()) && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    all.forEach(r -> r.container().kill(true, 0));
  }
}
