package dev.kiln.cli;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.v1alpha1.StageStatus;
import dev.kiln.cli.cluster.ClusterJobs;
import dev.kiln.cli.cluster.ClusterOptions;
import dev.kiln.cli.cluster.JobStatusView;
import dev.kiln.cli.run.ProgressView;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import dev.kiln.cli.run.RunSummary;
import dev.kiln.cli.run.StageMetrics;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code kiln status DIR}: where a local run stands, from its work dir: the summary of a finished
 * run, or the job status and the running stage's last step while it runs. {@code kiln status NAME
 * [-n NAMESPACE]}: the same for a job on a cluster, through the kubeconfig as kubectl finds it;
 * {@code --watch} follows it until it finishes. Exits 0 for a job that succeeded or is still on
 * its way, {@link RunCommand#JOB_FAILED} for one that ended otherwise.
 */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = "Show where a job stands: a local run (kiln run --workdir DIR), or a job on a cluster (NAME).")
final class StatusCommand implements Callable<Integer> {

  static final int NO_RUN = 1;

  @Parameters(index = "0", paramLabel = "DIR|NAME",
      description = "A local run's work dir, or the name of a job on the cluster")
  String target;

  @Mixin
  ClusterOptions cluster;

  @Option(names = {"-w", "--watch"}, description = "Follow a job on the cluster: print again whenever it changes,"
      + " until it finishes")
  boolean watch;

  @Option(names = "--interval", paramLabel = "SECONDS", defaultValue = "5", description = "How often --watch looks")
  int interval;

  @Spec
  CommandSpec spec;

  Path dir;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    dir = Path.of(target);
    boolean local = Files.exists(dir) || target.contains("/") || target.startsWith(".");
    if (!local) {
      return cluster(out);
    }
    if (!Files.isDirectory(dir)) {
      out.println(dir + (Files.exists(dir) ? " is a file" : " does not exist") + ": give the work dir of a kiln run"
          + " (.kiln/runs/<job>, or its --workdir), or the name of a job on the cluster");
      out.flush();
      return NO_RUN;
    }
    // Several jobs in one run: a folder per job.
    List<Path> jobs = holdsAJob(dir) ? List.of(dir) : perJobFolders();
    if (jobs.isEmpty()) {
      out.println(dir + ": no local run here (no summary.json or status.json; see kiln run --workdir)");
      out.flush();
      return NO_RUN;
    }
    int exit = 0;
    for (Path job : jobs) {
      if (jobs.size() > 1) {
        out.println(job.getFileName() + ":");
      }
      exit = Math.max(exit, show(job, out));
    }
    return exit;
  }

  /** The job named {@link #target} on the cluster, once or (with --watch) each time it changes until it ends. */
  private int cluster(PrintWriter out) throws InterruptedException {
    try (ClusterJobs jobs = cluster.connect()) {
      String ns = cluster.namespace(jobs);
      String shown = null;
      String seenVersion = null;
      List<Event> events = List.of();
      List<Pod> pods = List.of();
      while (true) {
        JsonNode job = jobs.job(ns, target);
        String version = job.at("/metadata/resourceVersion").asText();
        if (!version.equals(seenVersion)) {  // events and pods are read again only when the job changed
          events = jobs.events(ns, target);
          pods = jobs.pods(ns, target);
          seenVersion = version;
        }
        String view = JobStatusView.render(job, events, pods, Instant.now());
        // Ages change every second; a watch prints again when something else did.
        String comparable = view.replaceAll("\\(\\S+ ago\\)", "");
        if (!comparable.equals(shown)) {
          out.print(view);
          out.flush();
          shown = comparable;
        }
        MultimodalPretrainJobStatus status = JobStatusView.status(job);
        if (!watch || JobStatusView.finished(status)) {
          return status.getPhase() == JobPhase.Failed ? RunCommand.JOB_FAILED : 0;
        }
        Thread.sleep(Duration.ofSeconds(Math.max(1, interval)));
      }
    } catch (ClusterJobs.Unreachable e) {
      out.println("kiln status: " + e.getMessage());
      out.flush();
      return NO_RUN;
    }
  }

  private List<Path> perJobFolders() throws IOException {
    try (Stream<Path> entries = Files.list(dir)) {
      return entries.filter(StatusCommand::holdsAJob).sorted().toList();
    }
  }

  /** A job's folder of a local run: its summary once it ended, its status while it runs. */
  private static boolean holdsAJob(Path folder) {
    return Files.exists(folder.resolve("summary.json")) || Files.exists(folder.resolve("status.json"));
  }

  private int show(Path jobDir, PrintWriter out) throws IOException {
    ObjectMapper json = new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    Path summary = jobDir.resolve("summary.json");
    if (Files.isRegularFile(summary)) {
      RunSummary finished = json.readValue(summary.toFile(), RunSummary.class);
      RunCommand.printSummary(out, finished, jobDir);
      return "Succeeded".equals(finished.phase()) ? 0 : RunCommand.JOB_FAILED;
    }
    Path statusFile = jobDir.resolve("status.json");
    MultimodalPretrainJobStatus status = json.readValue(statusFile.toFile(), MultimodalPretrainJobStatus.class);
    long age = Duration.between(Files.getLastModifiedTime(statusFile).toInstant(), Instant.now()).toSeconds();
    out.printf("%s%s: %s (updated %s ago%s)%n", status.getPhase(), status.getStage() != null ? " " + status.getStage() : "",
        status.getMessage(), ProgressView.duration(age), age > 30 ? "; the kiln run that wrote it may have stopped" : "");
    Path workspace = workspace(status);
    for (StageStatus stage : status.getStages()) {
      var last = workspace == null ? null : StageMetrics.latest(workspace, stage.getName()).orElse(null);
      out.printf("  %-10s %-10s attempt %d, restarts %d%s%n", stage.getName(), stage.getPhase(),
          stage.getAttempt() == null ? 0 : stage.getAttempt(), stage.getRestarts() == null ? 0 : stage.getRestarts(),
          last == null ? "" : String.format(", step %d/%d, loss %.4f", last.step(), last.totalSteps(), last.loss()));
    }
    out.flush();
    return status.getPhase() == JobPhase.Failed ? RunCommand.JOB_FAILED : 0;
  }

  /** The job's workspace volume, under the run's cluster folder (shared by every job of the run). */
  private Path workspace(MultimodalPretrainJobStatus status) {
    if (status.getCheckpoints() == null || status.getCheckpoints().getClaimName() == null) {
      return null;
    }
    return dir.resolve("cluster/volumes/default").resolve(status.getCheckpoints().getClaimName());
  }
}
