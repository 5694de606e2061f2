package dev.kiln.cli;

import dev.kiln.api.JobFiles;
import dev.kiln.api.data.ShardPattern;
import dev.kiln.api.v1alpha1.DataSourceSpec;
import dev.kiln.api.v1alpha1.FilterSpec;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.StageSpec;
import dev.kiln.api.validation.JobValidator;
import dev.kiln.api.validation.Violation;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code kiln run FILE}: runs a job on this machine through the operator and a local node.
 * Until the local node, data jobs and trainer land, it validates the job, prints the plan the
 * operator will follow, and says so; it never pretends a job ran.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
    description = "Run a MultimodalPretrainJob locally, on CPU, with no cluster.")
final class RunCommand implements Callable<Integer> {

  /** The job cannot run here yet: distinct from an invalid job (1). */
  static final int NOT_RUNNABLE_YET = 3;

  @Parameters(index = "0", paramLabel = "FILE")
  Path file;

  @Option(names = "--workdir", paramLabel = "DIR", description = "Where data, checkpoints and logs go (default .kiln/<job>)")
  Path workdir;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    MultimodalPretrainJob job;
    try {
      job = JobFiles.read(file).getFirst();
    } catch (JobFiles.JobFileException e) {
      out.println(e.violation());
      return ValidateCommand.INVALID;
    }
    List<Violation> violations = JobValidator.validate(job);
    if (!violations.isEmpty()) {
      violations.forEach(out::println);
      return ValidateCommand.INVALID;
    }
    printPlan(out, job);
    out.println();
    out.println("Local execution is not available in this build: the local node, data jobs and trainer are");
    out.println("still being built (see README, \"Status\"). The job above is valid and this is what the");
    out.println("operator will do with it in a cluster: kiln crd | kubectl apply -f - ; kubectl apply -f " + file);
    out.flush();
    return NOT_RUNNABLE_YET;
  }

  static void printPlan(PrintWriter out, MultimodalPretrainJob job) {
    String name = job.getMetadata().getName();
    out.println("MultimodalPretrainJob " + name + ": valid");
    out.println("  model      " + describeModel(job));
    out.println("  workspace  PVC " + (job.getSpec().checkpoints().existingClaim() != null
        ? job.getSpec().checkpoints().existingClaim() : name + "-work (" + job.getSpec().checkpoints().volumeClaim().size() + ")"));
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
