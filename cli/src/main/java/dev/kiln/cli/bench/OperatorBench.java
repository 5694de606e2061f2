package dev.kiln.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.local.LocalCluster;
import dev.kiln.local.OperatorProcess;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The operator's load at scale: the real operator process against the local API server, with
 * {@code --jobs} one-stage jobs of one 8-GPU pod each on half as many fake 8-GPU nodes (half the
 * jobs train, half wait in the queue), and stand-in pods that run nothing. Measures the API
 * requests the operator makes while nothing changes, its resident memory, and how long a queued
 * stage waits for its Job once a running job is deleted and its GPUs come free (from its pod
 * ending or being deleted, whichever comes first, to the next Job; never clamped).
 */
@Command(name = "operator", mixinStandardHelpOptions = true,
    description = "Operator API load, memory and admission latency with many jobs (stand-in pods).")
public final class OperatorBench implements Callable<Integer> {

  @Option(names = "--jobs", defaultValue = "100", description = "Jobs to create (default ${DEFAULT-VALUE})")
  int jobs;

  @Option(names = "--idle-seconds", defaultValue = "60", description = "How long to count requests while nothing changes")
  int idleSeconds;

  @Option(names = "--releases", defaultValue = "20", description = "Running jobs deleted one by one to time admissions")
  int releases;

  @Option(names = "--settle-minutes", defaultValue = "20", description = "Give up if the jobs have not settled by then")
  int settleMinutes;

  @Option(names = "--keep", description = "Keep the cluster's folder (operator.log) after a run that succeeded")
  boolean keep;

  @Option(names = "--cohorts", description = "Run every job to the end through 4 queues sharing GPUs in a cohort (borrowing,"
      + " reclaim, lower-priority preemption), with 1- and 2-node gangs of 4 or 8 GPUs on nodes whose cpu is scarcer than"
      + " their GPUs")
  boolean cohorts;

  @Option(names = "--train-seconds", defaultValue = "20", description = "With --cohorts: how long each stand-in trainer"
      + " runs (default ${DEFAULT-VALUE})")
  int trainSeconds;

  @Spec
  CommandSpec spec;

  static final String DATA_CLAIM = "bench-data";

  /** When each job's trainer Job appeared and when its last trainer pod went, as the bench's watches saw them. */
  private final Map<String, Long> jobAdded = new ConcurrentHashMap<>();
  /** When each job's trainer pod stopped holding its GPUs: it ended (Succeeded or Failed) or, if first, was deleted. */
  private final Map<String, Long> podReleased = new ConcurrentHashMap<>();

  @Override
  public Integer call() throws Exception {
    if (cohorts) {
      return new CohortBench(jobs, trainSeconds, settleMinutes, keep, spec).call();
    }
    int gpuNodes = (jobs + 1) / 2;
    Path folder = Files.createTempDirectory("kiln-bench-operator");
    // The operator's cluster defaults: progress read every 30 s, not the local run's 5 s.
    LocalCluster.Options options = LocalCluster.Options.in(folder).withGpuNodes(gpuNodes).withStandInContainers()
        .withOperatorSettings(Map.of("KILN_OPERATOR_PROGRESS_INTERVAL_SECONDS", "30"));
    Map<String, Object> result = new LinkedHashMap<>();
    try (LocalCluster cluster = LocalCluster.start(options)) {
      KubernetesClient client = cluster.client();
      List<Watch> watches = watch(client);
      client.persistentVolumeClaims().inNamespace(LocalCluster.NAMESPACE).resource(new PersistentVolumeClaimBuilder()
          .withNewMetadata().withName(DATA_CLAIM).endMetadata()
          .withNewSpec().withAccessModes("ReadWriteMany").withNewResources()
            .addToRequests("storage", new Quantity("1Gi")).endResources().endSpec()
          .build()).create();

      long start = System.nanoTime();
      for (int i = 0; i < jobs; i++) {
        client.resource(job(i)).create();
      }
      await(() -> settled(client, gpuNodes), settleMinutes * 60L, "the jobs to settle (" + gpuNodes + " training, "
          + (jobs - Math.min(jobs, gpuNodes)) + " queued)");
      double settleSeconds = (System.nanoTime() - start) / 1e9;

      Thread.sleep(5_000);  // the last status writes and events land
      Map<String, Long> before = cluster.requestsByKindFrom(OperatorProcess.USER_AGENT);
      Thread.sleep(idleSeconds * 1000L);
      Map<String, Long> idleByKind = new java.util.TreeMap<>();
      cluster.requestsByKindFrom(OperatorProcess.USER_AGENT).forEach((kind, count) -> {
        long more = count - before.getOrDefault(kind, 0L);
        if (more > 0) {
          idleByKind.put(kind, more);
        }
      });
      long idleRequests = idleByKind.values().stream().mapToLong(Long::longValue).sum();
      long rssKb = residentKb(cluster.operator().pid());

      List<Long> latencies;
      try {
        latencies = admissions(client, Math.min(releases, jobs - gpuNodes));
      } catch (IllegalStateException e) {
        threadDump(cluster.operator().pid(), folder.resolve("operator-threads.txt"));
        throw e;
      }
      watches.forEach(Watch::close);

      result.put("bench", "operator");
      result.put("jobs", jobs);
      result.put("gpu_nodes", gpuNodes);
      result.put("settle_s", Math.round(settleSeconds * 10) / 10.0);
      result.put("idle_seconds", idleSeconds);
      result.put("idle_requests", idleRequests);
      result.put("idle_requests_by_kind", idleByKind);
      result.put("idle_requests_per_job_per_min", Math.round(idleRequests * 60_000.0 / idleSeconds / jobs) / 1000.0);
      result.put("rss_mb", rssKb / 1024);
      result.put("admissions", latencies.size());
      result.put("admission_from", "victim pod ended or deleted");
      result.put("admission_min_ms", latencies.stream().min(Long::compare).orElse(-1L));
      result.put("admission_p50_ms", percentile(latencies, 0.50));
      result.put("admission_p99_ms", percentile(latencies, 0.99));
      result.put("goal_idle_requests_per_job_per_min", 1);
      result.put("goal_rss_mb_at_1000_jobs", 300);
      result.put("goal_admission_p99_ms", 1000);
    } catch (RuntimeException | InterruptedException e) {
      spec.commandLine().getErr().println("kiln bench operator: " + e.getMessage() + "; the cluster's folder is kept: "
          + folder + " (operator.log, operator-threads.txt)");
      return 1;
    }
    if (keep) {
      spec.commandLine().getErr().println("kiln bench operator: the cluster's folder is kept: " + folder);
    } else {
      deleteTree(folder);
    }
    spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(result));
    spec.commandLine().getOut().flush();
    return 0;
  }

  /** A one-stage job of one pod with 8 GPUs; its data needs packing only (no filter). */
  private static MultimodalPretrainJob job(int index) {
    return benchJob("bench-%05d".formatted(index), 32, 4, """
              resources:
                nodes: 1
                gpusPerNode: 8
        """, "");
  }

  /**
   * A one-stage bench job named {@code name} whose data needs packing only: {@code stage} is YAML
   * the stage ends with (resources, pod settings; indented as a stage's fields), {@code spec} YAML
   * the spec ends with (scheduling; indented as the spec's fields, may be empty).
   */
  static MultimodalPretrainJob benchJob(String name, int globalBatchSize, int microBatchSize, String stage, String spec) {
    String yaml = """
        apiVersion: kiln.dev/v1alpha1
        kind: MultimodalPretrainJob
        metadata:
          name: %s
          namespace: default
        spec:
          model:
            preset: tiny
          data:
            claimName: %s
            sources:
              - name: shapes
                shards: shapes/captions-{000000..000003}.tar
            packing:
              sequenceLength: 256
              visualTokens: 16
              tokenizer: shapes/tokenizer.json
          checkpoints:
            volumeClaim:
              size: 1Gi
              accessModes: [ReadWriteMany]
          stages:
            - name: pretrain
              sources: [shapes]
              visualTokens: 16
              optimizer:
                lr: 1.0e-3
              budget:
                steps: 100
              batch:
                globalBatchSize: %d
                microBatchSize: %d
        """.formatted(name, DATA_CLAIM, globalBatchSize, microBatchSize) + stage + spec;
    return io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
        new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)), MultimodalPretrainJob.class);
  }

  private List<Watch> watch(KubernetesClient client) {
    Watch jobsWatch = client.batch().v1().jobs().inNamespace(LocalCluster.NAMESPACE)
        .withLabel(LocalCluster.COMPONENT_LABEL, LocalCluster.TRAINER)
        .watch(new Recorder<>((action, job) -> action == Watcher.Action.ADDED, jobAdded));
    Watch podsWatch = client.pods().inNamespace(LocalCluster.NAMESPACE)
        .withLabel(LocalCluster.COMPONENT_LABEL, LocalCluster.TRAINER)
        .watch(new Recorder<Pod>((action, pod) -> action == Watcher.Action.DELETED || pod.getStatus() != null
            && ("Succeeded".equals(pod.getStatus().getPhase()) || "Failed".equals(pod.getStatus().getPhase())), podReleased));
    return List.of(jobsWatch, podsWatch);
  }

  /** Records, by owning job, the first time an event of the watched kind matched {@code when}. */
  private record Recorder<T extends io.fabric8.kubernetes.api.model.HasMetadata>(
      java.util.function.BiPredicate<Watcher.Action, T> when, Map<String, Long> times) implements Watcher<T> {

    @Override
    public void eventReceived(Action received, T object) {
      if (when.test(received, object)) {
        times.putIfAbsent(object.getMetadata().getLabels().get(LocalCluster.JOB_LABEL), System.nanoTime());
      }
    }

    @Override
    public void onClose(WatcherException cause) {}
  }

  private boolean settled(KubernetesClient client, int gpuNodes) {
    List<MultimodalPretrainJob> all = client.resources(MultimodalPretrainJob.class).inNamespace(LocalCluster.NAMESPACE)
        .list().getItems();
    all.stream().filter(j -> phase(j) == JobPhase.Failed).findFirst().ifPresent(j -> {
      throw new IllegalStateException("job " + j.getMetadata().getName() + " failed: " + j.getStatus().getMessage());
    });
    long training = all.stream().filter(j -> phase(j) == JobPhase.Training).count();
    long queued = all.stream().filter(j -> phase(j) == JobPhase.Queued).count();
    return training == Math.min(jobs, gpuNodes) && queued == jobs - training;
  }

  private static JobPhase phase(MultimodalPretrainJob job) {
    return job.getStatus() == null ? null : job.getStatus().getPhase();
  }

  /**
   * Deletes running jobs one at a time; each time, how long from the moment its trainer pod
   * released its GPUs (the pod ended, or was deleted, whichever the watch saw first) to the next
   * queued job's trainer Job appearing. Not clamped: a negative time would be a gang admitted onto
   * GPUs a pod still held.
   */
  private List<Long> admissions(KubernetesClient client, int count) throws InterruptedException {
    List<Long> latencies = new ArrayList<>();
    List<String> running = new ArrayList<>(jobAdded.keySet());
    running.sort(Comparator.naturalOrder());
    for (String victim : running.subList(0, Math.min(count, running.size()))) {
      int admittedBefore = jobAdded.size();
      client.resources(MultimodalPretrainJob.class).inNamespace(LocalCluster.NAMESPACE).withName(victim).delete();
      String node = client.pods().inNamespace(LocalCluster.NAMESPACE).withLabel(LocalCluster.JOB_LABEL, victim).list()
          .getItems().stream().map(p -> p.getSpec().getNodeName()).filter(n -> n != null).findFirst().orElse(null);
      await(() -> jobAdded.size() > admittedBefore && podReleased.containsKey(victim), 120, () -> "a queued job to be "
          + "admitted after " + victim + " was deleted (its pod released: " + podReleased.containsKey(victim)
          + "; pods on its node " + node + " now: " + podsOn(client, node)
          + "; the queue's head: " + head(client) + ")");
      long admitted = jobAdded.values().stream().max(Long::compare).orElseThrow();
      latencies.add(TimeUnit.NANOSECONDS.toMillis(admitted - podReleased.get(victim)));
    }
    return latencies;
  }

  /** Name, phase and owner of each pod bound to the node. */
  private static List<String> podsOn(KubernetesClient client, String node) {
    return client.pods().inAnyNamespace().list().getItems().stream()
        .filter(p -> node != null && node.equals(p.getSpec().getNodeName()))
        .map(p -> p.getMetadata().getName() + " " + (p.getStatus() == null ? null : p.getStatus().getPhase())
            + (p.getMetadata().getDeletionTimestamp() != null ? " deleting" : "")).toList();
  }

  /** The first queued job and why it waits. */
  private static String head(KubernetesClient client) {
    return client.resources(MultimodalPretrainJob.class).inNamespace(LocalCluster.NAMESPACE).list().getItems().stream()
        .filter(j -> j.getStatus() != null && j.getStatus().getQueue() != null && j.getStatus().getQueue().position() != null)
        .min(Comparator.comparing(j -> j.getStatus().getQueue().position()))
        .map(j -> j.getMetadata().getName() + ": " + j.getStatus().getQueue().reason()).orElse("none");
  }

  static void await(BooleanSupplier condition, long seconds, String what) throws InterruptedException {
    await(condition, seconds, () -> what);
  }

  private static void await(BooleanSupplier condition, long seconds, Supplier<String> what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out after " + seconds + " s waiting for " + what.get());
      }
      Thread.sleep(200);
    }
  }

  /** Resident memory of the operator process, in MiB. */
  static long residentMb(long pid) throws IOException {
    return residentKb(pid) / 1024;
  }

  static long percentile(List<Long> values, double quantile) {
    if (values.isEmpty()) {
      return -1;
    }
    List<Long> sorted = values.stream().sorted().toList();
    int rank = (int) Math.ceil(quantile * sorted.size());
    return sorted.get(Math.max(0, rank - 1));
  }

  /** What every thread of the operator is doing, for a bench that timed out. */
  private static void threadDump(long pid, Path file) {
    try {
      Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
      new ProcessBuilder(jcmd.toString(), Long.toString(pid), "Thread.print").redirectErrorStream(true)
          .redirectOutput(file.toFile()).start().waitFor(30, TimeUnit.SECONDS);
    } catch (IOException e) {
      // the dump is a diagnostic; the timeout is reported either way
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Resident set size from /proc (Linux), in KiB. */
  private static long residentKb(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IOException("no VmRSS in /proc/" + pid + "/status");
  }

  static void deleteTree(Path folder) throws IOException {
    if (!Files.exists(folder)) {
      return;
    }
    try (var paths = Files.walk(folder)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    }
  }
}
