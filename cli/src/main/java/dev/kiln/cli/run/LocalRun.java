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
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.data.text.TextTokenizer;
import dev.kiln.local.LocalCluster;
import dev.kiln.local.LocalNode;
import dev.kiln.trainer.checkpoint.CheckpointStore;
import dev.kiln.model.VisionLanguageModel;
import dev.kiln.trainer.loop.TensorBoardEvents;
import dev.kiln.trainer.synthetic.Evaluation;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * One {@code kiln run}: starts a {@link LocalCluster} in the work dir, provides the jobs' data
 * claims (generating sample data when a job asks for it), applies the TrainingQueues and then the
 * jobs, follows them to the end, evaluates each final checkpoint when there is a held-out set, and
 * writes each job's summary and loss chart.
 *
 * <p>Work dir: {@code data/<claim>} (claims the jobs read; kept between runs), {@code cluster/}
 * (the cluster's volumes, pods and logs; started afresh unless resuming), and per job
 * {@code summary.json}, {@code status.json}, {@code loss.png}: in the work dir itself for one job,
 * in {@code <job>/} for several.
 */
public final class LocalRun {

  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final List<MultimodalPretrainJob> jobs;
  private final List<TrainingQueue> queues;
  private final Path workdir;
  private final Map<String, Path> givenClaims;
  private final boolean resume;
  private final Duration timeout;
  private final PrintWriter out;

  public LocalRun(List<MultimodalPretrainJob> jobs, List<TrainingQueue> queues, Path workdir,
      Map<String, Path> givenClaims, boolean resume, Duration timeout, PrintWriter out) {
    this.jobs = jobs;
    this.queues = queues;
    this.workdir = workdir.toAbsolutePath();
    this.givenClaims = givenClaims;
    this.resume = resume;
    this.timeout = timeout;
    this.out = out;
  }

  /** Where one job's summary, status and loss chart go. */
  public Path jobFolder(MultimodalPretrainJob job) {
    return jobs.size() == 1 ? workdir : workdir.resolve(job.getMetadata().getName());
  }

  /** Runs the jobs to their end; each summary says how its job ended. */
  public List<RunSummary> run() throws IOException, InterruptedException {
    try (WorkdirLock lock = WorkdirLock.take(workdir)) {
      return runLocked();
    }
  }

  private List<RunSummary> runLocked() throws IOException, InterruptedException {
    long started = System.nanoTime();
    Map<String, Path> claims = claimFolders();
    generateSampleData(claims);
    refuseWhatCannotRun(claims);
    Path clusterFolder = workdir.resolve("cluster");
    if (!resume) {
      deleteTree(clusterFolder);
    }
    for (MultimodalPretrainJob job : jobs) {
      Files.createDirectories(jobFolder(job));
      Files.deleteIfExists(jobFolder(job).resolve("summary.json"));
    }
    Map<String, Following> following = new LinkedHashMap<>();
    LocalCluster.Options options = LocalCluster.Options.in(clusterFolder).withGpuProduct(gpuProduct());
    try (LocalCluster cluster = LocalCluster.start(options); StopOnSignal stop = new StopOnSignal(cluster)) {
      apply(cluster, claims, clusterFolder, following);
      follow(cluster, following.values(), started);
      if (cluster.closed()) {
        throw new Interrupted();
      }
    }
    List<RunSummary> summaries = new ArrayList<>();
    for (Following job : following.values()) {
      job.progress().finish();
      RunSummary summary = summarize(job.job(), job.last(), job.workspace(),
          claims.get(job.job().getSpec().data().claimName()), started);
      writeAtomically(jobFolder(job.job()).resolve("summary.json"), JSON.writeValueAsString(summary));
      summaries.add(summary);
    }
    return summaries;
  }

  private void generateSampleData(Map<String, Path> claims) throws IOException {
    for (MultimodalPretrainJob job : jobs) {
      Path data = claims.get(job.getSpec().data().claimName());
      String sample = SampleData.requested(job);
      if (sample != null && SampleData.ensure(sample, data)) {
        out.println("generated the " + sample + " sample data into " + workdir.relativize(data));
      }
    }
  }

  /** Before anything is started or deleted: inputs missing from the claims, stages too big for this machine. */
  private void refuseWhatCannotRun(Map<String, Path> claims) {
    List<String> problems = new ArrayList<>();
    for (MultimodalPretrainJob job : jobs) {
      Preflight.problems(job, claims, givenClaims.keySet(), physicalMemory())
          .forEach(p -> problems.add((jobs.size() > 1 ? job.getMetadata().getName() + ": " : "") + p));
    }
    if (!problems.isEmpty()) {
      throw new CannotRun(String.join("\n", problems));
    }
  }

  /** Provides the claims, then applies the queues and the jobs, as {@code kubectl apply} would. */
  private void apply(LocalCluster cluster, Map<String, Path> claims, Path clusterFolder, Map<String, Following> following) {
    KubernetesClient client = cluster.client();
    claims.forEach((claim, folder) -> {
      cluster.volumes().provide(LocalCluster.NAMESPACE, claim, folder);
      client.persistentVolumeClaims().inNamespace(LocalCluster.NAMESPACE).resource(new PersistentVolumeClaimBuilder()
          .withNewMetadata().withName(claim).endMetadata()
          .withNewSpec().withAccessModes("ReadWriteMany").withNewResources()
            .addToRequests("storage", new Quantity("1Gi")).endResources().endSpec().build()).create();
    });
    for (TrainingQueue queue : queues) {
      client.resource(Canonical.copy(queue, TrainingQueue.class)).create();
      out.println("applied TrainingQueue " + queue.getMetadata().getName());
    }
    for (MultimodalPretrainJob job : jobs) {
      MultimodalPretrainJob applied = Canonical.copy(job, MultimodalPretrainJob.class);
      applied.getMetadata().setNamespace(LocalCluster.NAMESPACE);
      client.resource(applied).create();
      out.println("applied MultimodalPretrainJob " + job.getMetadata().getName() + " to the local cluster (logs: "
          + workdir.relativize(clusterFolder) + "/)");
      following.put(job.getMetadata().getName(), new Following(job, new ProgressView(out, job, jobs.size() > 1),
          cluster.volumes().folder(LocalCluster.NAMESPACE, workspaceClaim(job))));
    }
  }

  /**
   * While open, a signal that ends kiln run (Ctrl-C, kill, a closed terminal) takes the cluster with
   * it: the operator and every pod's processes stop, trainers checkpointing first, so nothing keeps
   * running and {@code --resume} continues.
   */
  private static final class StopOnSignal implements AutoCloseable {
    private final Thread hook;

    StopOnSignal(LocalCluster cluster) {
      hook = new Thread(() -> {
        System.err.println("\nkiln run: stopping the local cluster (pods get up to " + LocalNode.STOP_GRACE_SECONDS
            + " s to checkpoint); kiln run --resume continues from the latest checkpoint");
        cluster.close();
      }, "kiln-run-stop");
      Runtime.getRuntime().addShutdownHook(hook);
    }

    @Override
    public void close() {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is already stopping the cluster
      }
    }
  }

  /** One job being followed: how it is shown, where its workspace is, and its last status. */
  private static final class Following {
    private final MultimodalPretrainJob job;
    private final ProgressView progress;
    private final Path workspace;
    private MultimodalPretrainJobStatus last;

    Following(MultimodalPretrainJob job, ProgressView progress, Path workspace) {
      this.job = job;
      this.progress = progress;
      this.workspace = workspace;
    }

    MultimodalPretrainJob job() {
      return job;
    }

    ProgressView progress() {
      return progress;
    }

    Path workspace() {
      return workspace;
    }

    MultimodalPretrainJobStatus last() {
      return last == null ? new MultimodalPretrainJobStatus() : last;
    }

    boolean finished() {
      return last != null && last.getPhase() != null && last.getPhase().isFinished();
    }
  }

  /** How long a run waits out an API server that does not answer (a machine under heavy load) before it gives up. */
  static final Duration API_PATIENCE = Duration.ofMinutes(2);

  private void follow(LocalCluster cluster, java.util.Collection<Following> following, long started)
      throws IOException, InterruptedException {
    long deadline = timeout == null ? Long.MAX_VALUE : started + timeout.toNanos();
    Path pods = cluster.folder().resolve("pods").resolve(LocalCluster.NAMESPACE);
    ApiPatience patience = new ApiPatience(API_PATIENCE, out, System::nanoTime);
    while (true) {
      for (Following job : following) {
        if (job.finished()) {
          continue;
        }
        MultimodalPretrainJob current;
        try {
          current = cluster.client().resources(MultimodalPretrainJob.class)
              .inNamespace(LocalCluster.NAMESPACE).withName(job.job().getMetadata().getName()).get();
          patience.answered();
        } catch (KubernetesClientException e) {
          patience.failed(e);
          continue;
        }
        if (current != null && current.getStatus() != null) {
          job.last = current.getStatus();
          writeAtomically(jobFolder(job.job()).resolve("status.json"), JSON.writeValueAsString(job.last));
          job.progress().show(job.last, job.workspace(), pods);
        }
      }
      if (following.stream().allMatch(Following::finished)) {
        return;
      }
      if (cluster.closed()) {
        return;  // stopped by a signal: the shutdown hook has the cluster
      }
      if (!cluster.operator().alive()) {
        out.println("the operator stopped; its log: " + cluster.operator().log());
        cluster.operator().start();
      }
      if (System.nanoTime() > deadline) {
        for (Following job : following) {
          if (!job.finished()) {
            MultimodalPretrainJobStatus timedOut = job.last();
            timedOut.setReason("LocalTimeout");
            timedOut.setMessage("kiln run --timeout " + timeout.toMinutes() + "m passed before the job finished");
            job.last = timedOut;
          }
        }
        return;
      }
      Thread.sleep(1000);
    }
  }

  private RunSummary summarize(MultimodalPretrainJob job, MultimodalPretrainJobStatus status, Path workspace, Path data,
      long started) throws IOException {
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
      LossChart.write(metrics, jobFolder(job).resolve("loss.png"));
      chart = jobFolder(job).resolve("loss.png").toString();
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
        eval = evaluate(job, host, ref.getStage(), heldOut, data);
        writeEvalEvents(workspace, ref.getStage(), ref.getStep() == null ? 0 : ref.getStep(), eval);
      }
    }
    String phase = status.getPhase() == null ? "Unknown" : status.getPhase().name();
    return new RunSummary(job.getMetadata().getName(), phase, status.getReason(), status.getMessage(),
        (System.nanoTime() - started) / 1e9, stages, promoted, eval, chart);
  }

  private RunSummary.Eval evaluate(MultimodalPretrainJob job, Path checkpoint, String stageName, Path heldOut, Path dataClaim) throws IOException {
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

  /** The eval numbers at the promoted checkpoint's step, as a TensorBoard run beside the stage's attempts: {@code <stage>/eval}. */
  private static void writeEvalEvents(Path workspace, String stage, long step, RunSummary.Eval eval) throws IOException {
    Map<String, Double> scalars = new LinkedHashMap<>();
    scalars.put("eval/accuracy", eval.accuracy());
    if (eval.blind() != null) {
      scalars.put("eval/blank_image_accuracy", eval.blind());
    }
    scalars.put("eval/chance", eval.chance());
    try (TensorBoardEvents events = TensorBoardEvents.create(
        workspace.resolve(PodPaths.metrics(stage).substring(PodPaths.WORK.length() + 1)).resolve("eval"), "eval")) {
      events.scalars(step, scalars);
    }
  }

  /** The jobs cannot run on this machine as they are; nothing was started or deleted. */
  public static final class CannotRun extends RuntimeException {
    CannotRun(String why) {
      super(why);
    }
  }

  /** kiln run was stopped by a signal; the cluster is stopped and the jobs can be resumed. */
  public static final class Interrupted extends RuntimeException {
    Interrupted() {
      super("stopped before the jobs finished; kiln run --resume continues from the latest checkpoint");
    }
  }

  /** Readers (kiln status) see the old file or the new one, never half of one. */
  private static void writeAtomically(Path file, String text) throws IOException {
    Path next = file.resolveSibling(file.getFileName() + ".next");
    try {
      Files.writeString(next, text);
    } catch (FileSystemException e) {
      throw e;
    } catch (IOException e) {
      throw new FileSystemException(next.toString(), null, e.getMessage());  // a full disk says which file
    }
    Files.move(next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** This machine's memory (a container's limit, inside one). */
  private static long physicalMemory() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
  }

  /** Folders for the claims the jobs read but do not create: given ones, else {@code data/<claim>}. */
  private Map<String, Path> claimFolders() throws IOException {
    Map<String, Path> claims = new LinkedHashMap<>();
    java.util.Set<String> names = new java.util.LinkedHashSet<>();
    for (MultimodalPretrainJob job : jobs) {
      names.add(job.getSpec().data().claimName());
      if (job.getSpec().model().initialWeights() != null) {
        names.add(job.getSpec().model().initialWeights().claimName());
      }
      if (job.getSpec().checkpoints().existingClaim() != null) {
        names.add(job.getSpec().checkpoints().existingClaim());
      }
    }
    for (String claim : names) {
      Path folder = givenClaims.getOrDefault(claim, workdir.resolve("data").resolve(claim)).toAbsolutePath();
      Files.createDirectories(folder);
      claims.put(claim, folder);
    }
    return claims;
  }

  private static String workspaceClaim(MultimodalPretrainJob job) {
    String existing = job.getSpec().checkpoints().existingClaim();
    return existing != null ? existing : job.getMetadata().getName() + "-work";
  }

  private String gpuProduct() {
    return jobs.stream().flatMap(job -> job.getSpec().stages().stream()).map(s -> s.resources().gpuProduct()).filter(p -> p != null).findFirst()
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
