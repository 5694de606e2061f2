package dev.kiln.cli.run;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.kiln.api.Canonical;
import dev.kiln.api.runconfig.PodPaths;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.v1alpha1.StageSpec;
import dev.kiln.api.v1alpha1.StageStatus;
import dev.kiln.data.text.TextTokenizer;
import dev.kiln.local.LocalCluster;
import dev.kiln.trainer.checkpoint.CheckpointStore;
import dev.kiln.model.VisionLanguageModel;
import dev.kiln.trainer.synthetic.Evaluation;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * One {@code kiln run}: starts a {@link LocalCluster} in the work dir, provides the job's data
 * claims (generating sample data when the job asks for it), applies the job, follows it to the
 * end, evaluates the final checkpoint when there is a held-out set, and writes the summary and
 * the loss chart.
 *
 * <p>Work dir: {@code data/<claim>} (claims the job reads; kept between runs), {@code cluster/}
 * (the cluster's volumes, pods and logs; started afresh unless resuming), {@code summary.json},
 * {@code status.json}, {@code loss.png}.
 */
public final class LocalRun {

  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final MultimodalPretrainJob job;
  private final Path workdir;
  private final Map<String, Path> givenClaims;
  private final boolean resume;
  private final Duration timeout;
  private final PrintWriter out;

  public LocalRun(MultimodalPretrainJob job, Path workdir, Map<String, Path> givenClaims, boolean resume,
      Duration timeout, PrintWriter out) {
    this.job = job;
    this.workdir = workdir.toAbsolutePath();
    this.givenClaims = givenClaims;
    this.resume = resume;
    this.timeout = timeout;
    this.out = out;
  }

  /** Runs the job to its end; the summary says how it ended. */
  public RunSummary run() throws IOException, InterruptedException {
    long started = System.nanoTime();
    Path clusterFolder = workdir.resolve("cluster");
    if (!resume) {
      deleteTree(clusterFolder);
    }
    Files.deleteIfExists(workdir.resolve("summary.json"));
    Map<String, Path> claims = claimFolders();
    Path data = claims.get(job.getSpec().data().claimName());
    String sample = SampleData.requested(job);
    if (sample != null && SampleData.ensure(sample, data)) {
      out.println("generated the " + sample + " sample data into " + workdir.relativize(data));
    }
    String name = job.getMetadata().getName();
    MultimodalPretrainJobStatus last;
    Path workspace;
    ProgressView progress = new ProgressView(out, job);
    LocalCluster.Options options = LocalCluster.Options.in(clusterFolder).withGpuProduct(gpuProduct());
    try (LocalCluster cluster = LocalCluster.start(options)) {
      KubernetesClient client = cluster.client();
      claims.forEach((claim, folder) -> {
        cluster.volumes().provide(LocalCluster.NAMESPACE, claim, folder);
        client.persistentVolumeClaims().inNamespace(LocalCluster.NAMESPACE).resource(new PersistentVolumeClaimBuilder()
            .withNewMetadata().withName(claim).endMetadata()
            .withNewSpec().withAccessModes("ReadWriteMany").withNewResources()
              .addToRequests("storage", new Quantity("1Gi")).endResources().endSpec().build()).create();
      });
      MultimodalPretrainJob applied = Canonical.copy(job, MultimodalPretrainJob.class);
      applied.getMetadata().setNamespace(LocalCluster.NAMESPACE);
      client.resource(applied).create();
      out.println("applied MultimodalPretrainJob " + name + " to the local cluster (logs: "
          + workdir.relativize(clusterFolder) + "/)");
      workspace = cluster.volumes().folder(LocalCluster.NAMESPACE, workspaceClaim());
      last = follow(cluster, progress, workspace, started);
    }
    progress.finish();
    RunSummary summary = summarize(last, workspace, data, started);
    JSON.writeValue(workdir.resolve("summary.json").toFile(), summary);
    return summary;
  }

  private MultimodalPretrainJobStatus follow(LocalCluster cluster, ProgressView progress, Path workspace, long started)
      throws IOException, InterruptedException {
    var resource = cluster.client().resources(MultimodalPretrainJob.class).inNamespace(LocalCluster.NAMESPACE)
        .withName(job.getMetadata().getName());
    long deadline = timeout == null ? Long.MAX_VALUE : started + timeout.toNanos();
    MultimodalPretrainJobStatus status = null;
    while (true) {
      MultimodalPretrainJob current = resource.get();
      status = current == null ? status : current.getStatus();
      if (status != null) {
        Files.writeString(workdir.resolve("status.json"), JSON.writeValueAsString(status));
        progress.show(status, workspace, cluster.folder().resolve("pods").resolve(LocalCluster.NAMESPACE));
        if (status.getPhase() != null && status.getPhase().isFinished()) {
          return status;
        }
      }
      if (!cluster.operator().alive()) {
        out.println("the operator stopped; its log: " + cluster.operator().log());
        cluster.operator().start();
      }
      if (System.nanoTime() > deadline) {
        MultimodalPretrainJobStatus timedOut = status == null ? new MultimodalPretrainJobStatus() : status;
        timedOut.setReason("LocalTimeout");
        timedOut.setMessage("kiln run --timeout " + timeout.toMinutes() + "m passed before the job finished");
        return timedOut;
      }
      Thread.sleep(1000);
    }
  }

  private RunSummary summarize(MultimodalPretrainJobStatus status, Path workspace, Path data, long started)
      throws IOException {
    List<StageMetrics> metrics = new ArrayList<>();
    List<RunSummary.Stage> stages = new ArrayList<>();
    for (StageSpec spec : job.getSpec().stages()) {
      StageMetrics stage = StageMetrics.read(workspace, spec.name());
      metrics.add(stage);
      StageStatus stageStatus = status.getStages().stream().filter(s -> spec.name().equals(s.getName())).findFirst()
          .orElse(null);
      var lastStep = stage.last();
      stages.add(new RunSummary.Stage(spec.name(), stageStatus == null || stageStatus.getPhase() == null ? "NotStarted"
          : stageStatus.getPhase().name(), stageStatus == null ? null : stageStatus.getAttempt(),
          stageStatus == null ? null : stageStatus.getRestarts(), stageStatus == null ? null : stageStatus.getDisruptions(),
          lastStep.map(m -> m.step()).orElse(0L), lastStep.map(m -> m.loss()).orElse(null),
          stage.steps().isEmpty() ? null : stage.steps().stream().mapToDouble(m -> m.seconds()).sum(),
          lastStep.map(m -> m.tokensPerSecond()).orElse(null)));
    }
    String chart = null;
    if (metrics.stream().anyMatch(m -> !m.steps().isEmpty())) {
      LossChart.write(metrics, workdir.resolve("loss.png"));
      chart = workdir.resolve("loss.png").toString();
    }
    RunSummary.Checkpoint promoted = null;
    RunSummary.Eval eval = null;
    var checkpoints = status.getCheckpoints();
    if (checkpoints != null && checkpoints.getPromoted() != null && checkpoints.getPromoted().getPath() != null) {
      var ref = checkpoints.getPromoted();
      Path host = workspace.resolve(ref.getPath().substring(PodPaths.WORK.length() + 1));
      promoted = new RunSummary.Checkpoint(ref.getStage(), ref.getStep(), ref.getPath(), host.toString());
      Path heldOut = SampleData.heldOut(data);
      if (status.getPhase() == JobPhase.Succeeded && heldOut != null) {
        eval = evaluate(host, ref.getStage(), heldOut, data);
      }
    }
    String phase = status.getPhase() == null ? "Unknown" : status.getPhase().name();
    return new RunSummary(job.getMetadata().getName(), phase, status.getReason(), status.getMessage(),
        (System.nanoTime() - started) / 1e9, stages, promoted, eval, chart);
  }

  private RunSummary.Eval evaluate(Path checkpoint, String stageName, Path heldOut, Path dataClaim) throws IOException {
    StageSpec stage = job.getSpec().stages().stream().filter(s -> s.name().equals(stageName)).findFirst().orElseThrow();
    int visualTokens = stage.visualTokens() != null ? stage.visualTokens() : job.getSpec().data().packing().visualTokens();
    var dims = job.getSpec().model().resolve();
    try (NDManager manager = NDManager.newBaseManager();
        VisionLanguageModel model = new VisionLanguageModel(dims, manager, 0);
        TextTokenizer tokenizer = TextTokenizer.load(dataClaim.resolve(job.getSpec().data().packing().tokenizer()))) {
      CheckpointStore.load(checkpoint).model()
          .forEach((name, t) -> model.parameters().load(name, t.data(), new Shape(t.shape())));
      Evaluation.Result result = Evaluation.run(model, tokenizer, heldOut, visualTokens);
      return new RunSummary.Eval(result.accuracy(), result.blind(), result.chance(), result.questions(),
          result.byQuestion());
    }
  }

  /** Folders for the claims the job reads but does not create: given ones, else {@code data/<claim>}. */
  private Map<String, Path> claimFolders() throws IOException {
    Map<String, Path> claims = new LinkedHashMap<>();
    List<String> names = new ArrayList<>();
    names.add(job.getSpec().data().claimName());
    if (job.getSpec().model().initialWeights() != null) {
      names.add(job.getSpec().model().initialWeights().claimName());
    }
    if (job.getSpec().checkpoints().existingClaim() != null) {
      names.add(job.getSpec().checkpoints().existingClaim());
    }
    for (String claim : names) {
      Path folder = givenClaims.getOrDefault(claim, workdir.resolve("data").resolve(claim)).toAbsolutePath();
      Files.createDirectories(folder);
      claims.put(claim, folder);
    }
    return claims;
  }

  private String workspaceClaim() {
    String existing = job.getSpec().checkpoints().existingClaim();
    return existing != null ? existing : job.getMetadata().getName() + "-work";
  }

  private String gpuProduct() {
    return job.getSpec().stages().stream().map(s -> s.resources().gpuProduct()).filter(p -> p != null).findFirst()
        .orElse("NVIDIA-H100-80GB-HBM3");
  }

  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(path);
      }
    }
  }
}
