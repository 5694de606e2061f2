package dev.kiln.e2e;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.JobFiles;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.StageStatus;
import dev.kiln.cli.run.StageMetrics;
import dev.kiln.local.LocalCluster;
import dev.kiln.local.OperatorProcess;
import dev.kiln.trainer.loop.StepMetrics;
import dev.kiln.trainer.synthetic.ShapesData;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One local cluster per test, with the shapes data on the job's data claim, and what the tests
 * ask of it: apply a job, wait for phases and steps, read metrics, kill or evict pods. When a test
 * fails it prints the job's status, the events, and the end of every process log.
 */
final class LocalClusterHarness implements AutoCloseable, AfterTestExecutionCallback, AfterEachCallback {

  static final String NS = LocalCluster.NAMESPACE;
  static final Duration WAIT = Duration.ofMinutes(4);
  private static final ObjectMapper JSON = new ObjectMapper();

  private LocalCluster cluster;
  private Path folder;

  void start(Path folder, String dataClaim) throws IOException {
    start(folder, dataClaim, 1);
  }

  void start(Path folder, String dataClaim, int cpuNodes) throws IOException {
    start(folder, dataClaim, LocalCluster.Options.in(folder.resolve("cluster")).withCpuNodes(cpuNodes));
    ShapesData.generate(folder.resolve("data"), 200, 200, 10, 3);
  }

  /**
   * A cluster of {@code gpuNodes} nodes of 8 GPUs whose pods run nothing (trainer pods hold their
   * GPUs until stopped, data pods succeed at once): for scheduling, where the training is beside the point.
   */
  void startWithStandIns(Path folder, String dataClaim, int gpuNodes) throws IOException {
    startWithStandIns(folder, dataClaim, gpuNodes, Map.of());
  }

  /** As above, the operator started with these KILN_OPERATOR_* settings. */
  void startWithStandIns(Path folder, String dataClaim, int gpuNodes, Map<String, String> operatorSettings)
      throws IOException {
    start(folder, dataClaim, LocalCluster.Options.in(folder.resolve("cluster")).withGpuNodes(gpuNodes)
        .withStandInContainers().withOperatorSettings(operatorSettings));
  }

  /** A cluster set up as {@code options} say, with an empty data claim {@code tiny-data} in {@link #NS}. */
  void start(Path folder, LocalCluster.Options options) throws IOException {
    start(folder, "tiny-data", options);
  }

  private void start(Path folder, String dataClaim, LocalCluster.Options options) throws IOException {
    this.folder = folder;
    cluster = LocalCluster.start(options);
    provideDataClaim(NS, dataClaim);
  }

  /** A bound ReadWriteMany claim in {@code namespace} backed by this test's data folder. */
  void provideDataClaim(String namespace, String claim) throws IOException {
    Path data = Files.createDirectories(folder.resolve("data"));
    cluster.volumes().provide(namespace, claim, data);
    client().persistentVolumeClaims().inNamespace(namespace).resource(new PersistentVolumeClaimBuilder()
        .withNewMetadata().withName(claim).endMetadata()
        .withNewSpec().withAccessModes("ReadWriteMany").withNewResources().addToRequests("storage", new Quantity("1Gi"))
        .endResources().endSpec().build()).create();
  }

  static MultimodalPretrainJob job(String resource, UnaryOperator<String> edit) {
    try (var in = LocalClusterHarness.class.getResourceAsStream("/jobs/" + resource)) {
      String yaml = edit.apply(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
      Path file = Files.createTempFile("job", ".yaml");
      Files.writeString(file, yaml);
      MultimodalPretrainJob job = JobFiles.read(file).getFirst();
      Files.delete(file);
      job.getMetadata().setNamespace(NS);
      return job;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  MultimodalPretrainJob apply(MultimodalPretrainJob job) {
    return client().resource(job).create();
  }

  KubernetesClient client() {
    return cluster.client();
  }

  LocalCluster cluster() {
    return cluster;
  }

  MultimodalPretrainJob get(String name) {
    return client().resources(MultimodalPretrainJob.class).inNamespace(NS).withName(name).get();
  }

  MultimodalPretrainJob awaitPhase(String name, JobPhase phase) {
    await().atMost(WAIT).pollInterval(Duration.ofMillis(200)).until(() -> {
      MultimodalPretrainJob job = get(name);
      JobPhase current = job == null || job.getStatus() == null ? null : job.getStatus().getPhase();
      if (current != null && current.isFinished() && current != phase) {
        throw new AssertionError("job " + name + " ended " + current + " (" + job.getStatus().getReason() + ": "
            + job.getStatus().getMessage() + ") while waiting for " + phase);
      }
      return current == phase;
    });
    return get(name);
  }

  StageStatus stage(String job, String stage) {
    return get(job).getStatus().getStages().stream().filter(s -> s.getName().equals(stage)).findFirst().orElseThrow();
  }

  /** Waits until the stage's trainer has logged at least {@code step}; returns the step it reached. */
  long awaitStep(String job, String stage, long step) {
    await().atMost(WAIT).pollInterval(Duration.ofMillis(50)).until(() -> lastStep(job, stage) >= step);
    return lastStep(job, stage);
  }

  long lastStep(String job, String stage) {
    List<StepMetrics> lines = metricLines(job, stage);
    return lines.isEmpty() ? 0 : lines.getLast().step();
  }

  /** Every metrics line of a stage in the order written, attempts one after the other. */
  List<StepMetrics> metricLines(String job, String stage) {
    return StageMetrics.lines(workspace(job).resolve("metrics").resolve(stage).resolve("metrics.jsonl"));
  }

  Path workspace(String job) {
    return cluster.volumes().folder(NS, job + "-work");
  }

  /** The running trainer pod of a stage. */
  Pod trainerPod(String job, String stage) {
    await().atMost(WAIT).until(() -> runningTrainer(job, stage) != null);
    return runningTrainer(job, stage);
  }

  private Pod runningTrainer(String job, String stage) {
    return trainerPods(job, stage).stream()
        .filter(p -> p.getStatus() != null && "Running".equals(p.getStatus().getPhase()))
        .findFirst().orElse(null);
  }

  List<Pod> trainerPods(String job, String stage) {
    return client().pods().inNamespace(NS).withLabel("kiln.dev/job", job).withLabel("kiln.dev/stage", stage)
        .withLabel("app.kubernetes.io/component", "trainer").list().getItems();
  }

  /**
   * Waits until the log of a pod whose name starts with {@code podPrefix} holds {@code text} (the
   * pod may already be gone from the API: its process can outlive it by its grace period); returns
   * the line.
   */
  String awaitLogLine(String podPrefix, String text) {
    Path pods = cluster.folder().resolve("pods").resolve(NS);
    String[] line = new String[1];
    await().atMost(WAIT).pollInterval(Duration.ofMillis(100)).until(() -> {
      try (var folders = Files.list(pods)) {
        for (Path pod : folders.filter(f -> f.getFileName().toString().startsWith(podPrefix)).toList()) {
          Path log = pod.resolve("log");
          if (Files.exists(log)) {
            var found = Files.readAllLines(log).stream().filter(l -> l.contains(text)).findFirst();
            if (found.isPresent()) {
              line[0] = found.get();
              return true;
            }
          }
        }
      }
      return false;
    });
    return line[0];
  }

  List<String> childJobNames() {
    return client().batch().v1().jobs().inNamespace(NS).list().getItems().stream()
        .map(j -> j.getMetadata().getName()).sorted().toList();
  }

  /** The Jobs of stage attempts ({@code <job>-<stage>-a<N>}), without the data-prep Jobs. */
  List<String> trainerJobNames() {
    return childJobNames().stream().filter(n -> n.contains("-pretrain-") || n.contains("-sft-"))
        .filter(n -> !n.contains("-pack-")).toList();
  }

  /**
   * The positive control for "a restarted operator changed nothing": waits until the operator's
   * process has logged it started and, since, reconciled at least {@code reconciles} times (its
   * {@code kiln_reconcile_duration_seconds_count}, which starts from zero with each process): one
   * per job is what it does for the jobs it finds at start.
   */
  void awaitReconciles(OperatorProcess operator, long reconciles) {
    await().atMost(WAIT).pollInterval(Duration.ofMillis(200)).until(() -> operatorMetric(operator,
        "kiln_reconcile_duration_seconds_count") >= reconciles);
  }

  /** A GET of one of the operator's HTTP endpoints (health, metrics) at the address it logged. */
  static HttpResponse<String> operatorGet(OperatorProcess operator, String path) throws IOException, InterruptedException {
    var base = operator.httpAddress().orElseThrow(() -> new IOException("the operator has not logged its address"));
    try (HttpClient http = HttpClient.newHttpClient()) {
      return http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(5)).build(),
          HttpResponse.BodyHandlers.ofString());
    }
  }

  /** The value of one of the operator's metrics without labels, or -1 while it does not answer. */
  static double operatorMetric(OperatorProcess operator, String name) {
    try {
      String body = operatorGet(operator, "/q/metrics").body();
      for (String line : body.split("\n")) {
        if (line.startsWith(name + " ")) {
          return Double.parseDouble(line.substring(line.indexOf(' ') + 1));
        }
      }
      return -1;
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  /** The job's place in its queue, or -1 when it has none (not queued, or not yet reconciled). */
  int queuePosition(String job) {
    MultimodalPretrainJob current = get(job);
    var queue = current == null || current.getStatus() == null ? null : current.getStatus().getQueue();
    return queue == null || queue.position() == null ? -1 : queue.position();
  }

  @Override
  public void afterTestExecution(ExtensionContext context) throws Exception {
    if (context.getExecutionException().isEmpty() || cluster == null) {
      return;
    }
    System.err.println("==== end-to-end failure: " + context.getDisplayName());
    for (MultimodalPretrainJob job : client().resources(MultimodalPretrainJob.class).inNamespace(NS).list().getItems()) {
      System.err.println("---- status of " + job.getMetadata().getName());
      System.err.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(job.getStatus()));
    }
    System.err.println("---- events");
    client().v1().events().inNamespace(NS).list().getItems().stream()
        .sorted(Comparator.comparing(e -> String.valueOf(e.getLastTimestamp())))
        .forEach(e -> System.err.println(e.getType() + " " + e.getReason() + ": " + e.getMessage()));
    try (var logs = Files.walk(folder.resolve("cluster"))) {
      for (Path log : logs.filter(p -> p.getFileName().toString().equals("log")
          || p.getFileName().toString().matches("operator(-\\d+)?\\.log")).sorted().toList()) {
        List<String> lines = Files.readAllLines(log);
        System.err.println("---- " + folder.relativize(log) + " (last 30 lines)");
        lines.subList(Math.max(0, lines.size() - 30), lines.size()).forEach(System.err::println);
      }
    }
  }

  /** Stops the cluster after each test, once a failure's diagnostics are printed. */
  @Override
  public void afterEach(ExtensionContext context) {
    close();
  }

  @Override
  public void close() {
    if (cluster != null) {
      cluster.close();
      cluster = null;
    }
  }
}
