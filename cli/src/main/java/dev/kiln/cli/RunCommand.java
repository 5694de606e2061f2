package dev.kiln.cli;

import dev.kiln.api.JobFiles;
import dev.kiln.api.data.ShardPattern;
import dev.kiln.api.v1alpha1.DataSourceSpec;
import dev.kiln.api.v1alpha1.FilterSpec;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.StageSpec;
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.api.validation.JobValidator;
import dev.kiln.api.validation.Violation;
import dev.kiln.cli.run.LocalRun;
import dev.kiln.cli.run.ProgressView;
import dev.kiln.cli.run.RunSummary;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code kiln run FILE...}: runs jobs on this machine, through the operator, on a local cluster
 * (in-memory API server, the operator process, a local node running pods as processes), as
 * {@code kubectl apply -f} would: every job and TrainingQueue in the files, queues first. Exit 0
 * only when every job Succeeded.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
    description = "Run a MultimodalPretrainJob locally, on CPU, with no cluster.")
final class RunCommand implements Callable<Integer> {

  /** The job ran and did not succeed: distinct from an invalid job (1). */
  static final int JOB_FAILED = 2;

  @Parameters(arity = "1..*", paramLabel = "FILE",
      description = "YAML files of MultimodalPretrainJobs and TrainingQueues; the jobs run at once, sharing the local"
          + " cluster's fake GPUs through their queues")
  List<Path> files;

  @Option(names = "--workdir", paramLabel = "DIR",
      description = "Where data, volumes, logs and the summaries go (default .kiln/runs/<job>, or .kiln/runs/<job>+<job>...)")
  Path workdir;

  @Option(names = "--claim", paramLabel = "NAME=DIR", description = "Use DIR for the job's claim NAME (its data, say)")
  Map<String, Path> claims = new LinkedHashMap<>();

  @Option(names = "--resume", description = "Keep the previous run's volumes: stages resume from their checkpoints")
  boolean resume;

  @Option(names = "--timeout", paramLabel = "MINUTES", description = "Give up after this many minutes")
  Long timeoutMinutes;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    List<MultimodalPretrainJob> jobs = new ArrayList<>();
    List<TrainingQueue> queues = new ArrayList<>();
    for (Path file : files) {
      if (files.size() > 1) {
        out.println(file + ":");
      }
      var read = ValidateCommand.readValidManifests(file, out);
      if (read.isEmpty()) {
        out.flush();
        return ValidateCommand.INVALID;
      }
      jobs.addAll(read.get().jobs());
      queues.addAll(read.get().queues());
    }
    String problem = jobs.isEmpty() ? "(files): no MultimodalPretrainJob to run" : duplicateNames(jobs, queues);
    if (problem != null) {
      out.println(problem);
      out.flush();
      return ValidateCommand.INVALID;
    }
    jobs.forEach(job -> printPlan(out, job));
    Path dir = workdir != null ? workdir : Path.of(".kiln", "runs",
        String.join("+", jobs.stream().map(j -> j.getMetadata().getName()).toList()));
    LocalRun run = new LocalRun(jobs, queues, dir, claims, resume,
        timeoutMinutes == null ? null : Duration.ofMinutes(timeoutMinutes), out);
    List<RunSummary> summaries;
    try {
      summaries = run.run();
    } catch (LocalRun.Interrupted e) {
      out.println("kiln run: " + e.getMessage());
      out.flush();
      return JOB_FAILED;
    } catch (LocalRun.CannotRun e) {
      out.println();
      out.println("kiln run: cannot start; nothing was started:");
      out.println("  " + e.getMessage().replace("\n", "\n  "));
      out.flush();
      return ValidateCommand.INVALID;
    }
    for (int i = 0; i < jobs.size(); i++) {
      printSummary(out, summaries.get(i), run.jobFolder(jobs.get(i)));
    }
    return summaries.stream().allMatch(s -> "Succeeded".equals(s.phase())) ? 0 : JOB_FAILED;
  }

  /** Two jobs (or two queues) of one name would be one object on a cluster: the second would not apply. */
  private static String duplicateNames(List<MultimodalPretrainJob> jobs, List<TrainingQueue> queues) {
    Set<String> seen = new HashSet<>();
    for (MultimodalPretrainJob job : jobs) {
      if (!seen.add(job.getMetadata().getName())) {
        return "metadata.name: two MultimodalPretrainJobs are named " + job.getMetadata().getName();
      }
    }
    seen.clear();
    for (TrainingQueue queue : queues) {
      if (!seen.add(queue.getMetadata().getName())) {
        return "metadata.name: two TrainingQueues are named " + queue.getMetadata().getName();
      }
    }
    return null;
  }

  static void printSummary(PrintWriter out, RunSummary summary, Path dir) {
    out.println();
    out.printf("%s %s in %s%s%n", summary.job(), summary.phase(), ProgressView.duration((long) summary.seconds()),
        summary.reason() != null && !"Succeeded".equals(summary.phase()) ? " (" + summary.reason() + ": " + summary.message() + ")" : "");
    for (RunSummary.Stage stage : summary.stages()) {
      out.printf("  %-10s %-10s %5d steps  loss %s  attempts %s  %s%n", stage.name(), stage.phase(), stage.steps(),
          stage.loss() == null ? "-" : String.format("%.4f", stage.loss()), stage.attempts() == null ? "-" : stage.attempts(),
          stage.seconds() == null ? "" : ProgressView.duration(Math.round(stage.seconds())));
    }
    if (summary.promoted() != null) {
      out.println("  checkpoint " + summary.promoted().stage() + " step " + summary.promoted().step() + ": "
          + summary.promoted().hostPath());
    }
    if (summary.eval() != null) {
      RunSummary.Eval eval = summary.eval();
      out.printf("  eval       answer accuracy %.3f on %d held-out questions (blank image %s, chance %.3f)%n",
          eval.accuracy(), eval.questions(), eval.blind() == null ? "-" : String.format("%.3f", eval.blind()), eval.chance());
    }
    if (summary.lossChart() != null) {
      out.println("  loss curve " + summary.lossChart());
    }
    out.println("  summary    " + dir.resolve("summary.json"));
    out.flush();
  }

  static void printPlan(PrintWriter out, MultimodalPretrainJob job) {
    String name = job.getMetadata().getName();
    out.println("MultimodalPretrainJob " + name + ": valid");
    out.println("  model      " + describeModel(job));
    var checkpoints = job.getSpec().checkpoints();
    boolean shared = checkpoints.existingClaim() == null && checkpoints.volumeClaim().accessModes().contains("ReadWriteMany");
    out.println("  workspace  PVC " + (checkpoints.existingClaim() != null ? checkpoints.existingClaim()
        : name + "-work (" + checkpoints.volumeClaim().size() + ", " + String.join(", ", checkpoints.volumeClaim().accessModes()) + ")")
        + (shared ? ": data-prep pods may spread over nodes"
            : ": data-prep pods run together on one node (a ReadWriteOnce claim attaches to one node)"));
    int widest = job.getSpec().stages().stream().mapToInt(stage -> stage.resources().nodes()).max().orElse(1);
    out.println("  data claim " + job.getSpec().data().claimName() + ", read-only" + (widest > 1
        ? ": must be ReadOnlyMany or ReadWriteMany (a stage reads it from " + widest + " nodes at once)" : ""));
    for (DataSourceSpec source : job.getSpec().data().sources()) {
      long shards = ShardPattern.count(source.shards());
      out.println("  data       " + source.name() + ": " + shards + " shard(s)"
          + (source.filter() != null ? ", filtered by " + source.filter().count() + " filter(s) ("
              + (source.filter().combine() == FilterSpec.FilterCombine.ANY_OF ? "AnyOf" : "AllOf") + ") in Job " + name + "-filter-" + source.name() : ", unfiltered"));
    }
    for (StageSpec stage : job.getSpec().stages()) {
      int tokens = stage.visualTokens() != null ? stage.visualTokens() : job.getSpec().data().packing().visualTokens();
      out.println("  stage      " + stage.name() + ": pack at " + job.getSpec().data().packing().sequenceLength()
          + " tokens / " + tokens + " visual tokens, then " + stage.resources().nodes() + " node(s) x "
          + (stage.resources().gpusPerNode() == 0 ? "CPU" : stage.resources().gpusPerNode() + " GPU")
          + ", " + stage.sharding() + (stage.initFrom() != null ? ", from " + stage.initFrom() : ""));
    }
  }

  private static String describeModel(MultimodalPretrainJob job) {
    var model = job.getSpec().model();
    var dims = model.resolve();
    String what = model.preset() != null ? "preset " + model.preset().name().toLowerCase().replace('_', '-') : "explicit";
    return what + ": ViT " + dims.vision().imageSize() + "px/" + dims.vision().patchSize() + " x" + dims.vision().depth()
        + ", decoder " + dims.languageModel().hiddenSize() + "d x" + dims.languageModel().layers();
  }
}
