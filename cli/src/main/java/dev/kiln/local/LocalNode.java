package dev.kiln.local;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Everything a cluster does besides the API server and the operator, for Kiln's objects: binds
 * claims, schedules pods, plays the Job controller and the kubelet, and collects garbage. One
 * control loop, level-triggered like the real controllers: each pass reads the objects and moves
 * them one step towards what their specs say.
 */
public final class LocalNode implements AutoCloseable {

  static final long PASS_MILLIS = 200;
  /** Stand-in pods change only when told to; a slower loop leaves the CPU to the operator being measured. */
  static final long STAND_IN_PASS_MILLIS = 500;
  /** Every so many passes the collector also looks at ConfigMaps and Services, which a pass does not read. */
  static final int GC_EVERY_PASSES = 5;
  /** How long pods get to stop (a trainer to checkpoint) when the node shuts down, before they are killed. */
  public static final long STOP_GRACE_SECONDS = 20;
  /** Passes in a row that may fail on API errors before the failure is reported (10 s at the usual pace). */
  static final int API_ERRORS_BEFORE_REPORT = 50;

  private final KubernetesClient client;
  private final ClusterReads cluster;
  private final Volumes volumes;
  private final Scheduler scheduler;
  private final JobController jobs;
  private final Kubelet kubelet;
  private final GarbageCollector garbage;
  private final ClusterDns dns;
  private final PrintStream errors;
  private final ScheduledExecutorService loop = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread thread = new Thread(r, "kiln-local-node");
    thread.setDaemon(true);
    return thread;
  });
  private final long passMillis;
  private long passes;
  private volatile long passesDone;
  private String lastError;
  private int apiErrorsInARow;

  LocalNode(KubernetesClient client, ClusterReads cluster, Volumes volumes, ImageCatalog images, Path podsFolder,
      Path djlCache, PrintStream errors, boolean standInContainers) {
    this.client = client;
    this.cluster = cluster;
    this.volumes = volumes;
    this.scheduler = new Scheduler(client);
    this.jobs = new JobController(client);
    this.dns = new ClusterDns(podsFolder.resolveSibling("hosts"));
    ContainerRuntime processes = (pod, folder, podIp, program, claimFolders) ->
        Container.start(pod, folder, podIp, program, claimFolders, client, djlCache, dns.file());
    this.kubelet = new Kubelet(client, images, standInContainers ? StandInContainer.RUNTIME : processes, volumes,
        podsFolder);
    this.passMillis = standInContainers ? STAND_IN_PASS_MILLIS : PASS_MILLIS;
    this.garbage = new GarbageCollector(client, cluster);
    this.errors = errors;
  }

  void start() {
    loop.scheduleWithFixedDelay(this::pass, 0, passMillis, TimeUnit.MILLISECONDS);
  }

  private void pass() {
    try {
      Snapshot snapshot = Snapshot.read(cluster);
      volumes.sync(snapshot);
      jobs.sync(snapshot);
      dns.sync(snapshot);
      scheduler.sync(snapshot);
      kubelet.sync(snapshot);
      if (++passes % GC_EVERY_PASSES == 0) {
        garbage.sync();
      } else {
        garbage.collectOrphans(snapshot);
      }
      passesDone++;
      lastError = null;
      apiErrorsInARow = 0;
    } catch (Exception e) {
      // A conflict, or an object deleted between list and write, is a control loop's everyday race: the
      // next pass reads the new state. Only one that keeps coming back is worth a line; a bug is at once.
      if (apiError(e) && ++apiErrorsInARow < API_ERRORS_BEFORE_REPORT) {
        return;
      }
      String message = e.getClass().getSimpleName() + ": " + e.getMessage();
      if (!message.equals(lastError)) {
        errors.println("local node: " + message);
      }
      lastError = message;
    }
  }

  /**
   * Passes made to the end so far: a test that checks something did not happen waits for the
   * passes that would have made it happen, instead of sleeping.
   */
  public long passesDone() {
    return passesDone;
  }

  /**
   * A request the API server refused or did not answer (Not Found, Conflict: the pass acted on a
   * state that has since changed; or a busy server): the next pass tries again from what is now.
   */
  static boolean apiError(Exception e) {
    return e instanceof KubernetesClientException;
  }

  /** Evicts the pod (as node pressure or a drain would): it fails with reason Evicted. */
  public boolean evict(String namespace, String name) {
    return pod(namespace, name).map(kubelet::evict).orElse(false);
  }

  /**
   * Evicts the pod through the API, as {@code kubectl drain}, preemption or a taint eviction does:
   * the pod gets a {@code DisruptionTarget} condition and is deleted; its node stops it within its
   * grace period, and once its Job has counted it, it is gone.
   */
  public boolean evictThroughApi(String namespace, String name) {
    var pods = client.pods().inNamespace(namespace).withName(name);
    if (pods.get() == null) {
      return false;
    }
    String now = java.time.Instant.now().toString();
    pods.editStatus(p -> {
      var conditions = new java.util.ArrayList<>(p.getStatus().getConditions() == null ? java.util.List.of()
          : p.getStatus().getConditions());
      conditions.add(new io.fabric8.kubernetes.api.model.PodConditionBuilder().withType("DisruptionTarget")
          .withStatus("True").withReason("EvictionByEvictionAPI").withMessage("Eviction API: evicting")
          .withLastTransitionTime(now).build());
      p.getStatus().setConditions(conditions);
      return p;
    });
    pods.delete();
    return true;
  }

  /** Kills the pod's process at once, as a crash would (exit 137). */
  public boolean kill(String namespace, String name) {
    return pod(namespace, name).map(kubelet::kill).orElse(false);
  }

  /**
   * The machine behind a node vanishes, as a cloud VM that dies does: its pods' processes are gone
   * without a word to the API server; the node lifecycle controller marks the node's Ready
   * condition Unknown and taints it unreachable; the cloud node controller deletes the Node; the
   * pod garbage collector then fails the pods bound to it with a {@code DisruptionTarget}
   * condition and deletes them (see {@link GarbageCollector}), and their Jobs replace them
   * elsewhere. (A real cluster takes minutes over this: the node's grace period, then the
   * cloud's; here it is at once.) Returns how many pods were running there.
   */
  public int lose(String nodeName) {
    int lost = kubelet.lose(nodeName);
    String now = java.time.Instant.now().toString();
    var node = client.nodes().withName(nodeName);
    node.edit(n -> {
      var taints = new java.util.ArrayList<>(n.getSpec().getTaints() == null ? java.util.List.of() : n.getSpec().getTaints());
      for (String effect : java.util.List.of("NoSchedule", "NoExecute")) {
        taints.add(new io.fabric8.kubernetes.api.model.TaintBuilder().withKey(UNREACHABLE).withEffect(effect)
            .withTimeAdded(now).build());
      }
      n.getSpec().setTaints(taints);
      return n;
    });
    node.editStatus(n -> {
      n.getStatus().getConditions().stream().filter(c -> "Ready".equals(c.getType())).forEach(c -> {
        c.setStatus("Unknown");
        c.setReason("NodeStatusUnknown");
        c.setMessage("Kubelet stopped posting node status.");
        c.setLastTransitionTime(now);
      });
      return n;
    });
    node.delete();
    return lost;
  }

  /** The taint the node lifecycle controller puts on a node it no longer hears from. */
  static final String UNREACHABLE = "node.kubernetes.io/unreachable";

  /** The folder holding a pod's log and root. */
  public Path podFolder(Pod pod) {
    return kubelet.folder(pod);
  }

  private Optional<Pod> pod(String namespace, String name) {
    return Optional.ofNullable(client.pods().inNamespace(namespace).withName(name).get());
  }

  @Override
  public void close() {
    loop.shutdownNow();
    try {
      loop.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    kubelet.stopAll(STOP_GRACE_SECONDS);
  }
}
