package dev.kiln.operator.manifests;

import dev.kiln.api.runconfig.PodPaths;
import dev.kiln.api.sizing.PackingSizing;
import dev.kiln.api.v1alpha1.DataJobResourcesSpec;
import dev.kiln.api.v1alpha1.DataSourceSpec;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.PackingPlanner;
import dev.kiln.api.v1alpha1.SourceKind;
import dev.kiln.api.v1alpha1.StageSpec;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The packing Jobs of one stage, run one after another: prepare (Indexed, each pod an even run of
 * the input shards), plan (one pod, over every sample's length, so the plan is global and
 * deterministic), write (Indexed, each pod an even run of the packed shards) and finish (the
 * manifest, and the summary the operator records). The bytes are the same for any parallelism.
 */
public final class PackJobManifest {

  /** The container of the data Jobs (filter and pack), as their pods report it. */
  public static final String CONTAINER = "data-jobs";

  /** The packing steps, in the order they run. */
  public enum Step {
    PREPARE, PLAN, WRITE, FINISH;

    /** As the data-jobs {@code --step} option and the step label spell it. */
    public String argument() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** Whether the step is split over the stage's packing pods. */
    public boolean indexed() {
      return this == PREPARE || this == WRITE;
    }
  }

  private PackJobManifest() {}

  public static Job build(MultimodalPretrainJob job, StageSpec stage, Step step, OperatorSettings settings) {
    return build(job, stage, step, settings, PackingSizing.tasks(job.getSpec(), stage));
  }

  /**
   * A step of a packing split into {@code tasks}: the later steps take the prepare Job's number,
   * so that a spec edited between two steps cannot leave prepared parts out.
   */
  public static Job build(MultimodalPretrainJob job, StageSpec stage, Step step, OperatorSettings settings, int tasks) {
    int pods = Math.min(tasks, PackingSizing.pods(job.getSpec(), stage));
    List<String> args = new ArrayList<>(List.of("pack", "--step", step.argument(), "--tasks", Integer.toString(tasks)));
    for (String sourceName : stage.sources()) {
      DataSourceSpec source = job.getSpec().data().source(sourceName);
      args.add("--input");
      args.add(source.filter() != null ? PodPaths.filtered(source.name()) : PodPaths.data(source.shards()));
      args.add("--kind");
      args.add(source.kind() == SourceKind.INSTRUCTIONS ? "instructions" : "captions");
    }
    args.addAll(List.of(
        "--output", PodPaths.packed(stage.name()),
        "--tokenizer", PodParts.tokenizer(job),
        "--seq-len", Integer.toString(job.getSpec().data().packing().sequenceLength()),
        "--visual-tokens", Integer.toString(visualTokens(job, stage)),
        "--image-size", Integer.toString(job.getSpec().model().resolve().vision().imageSize()),
        "--seed", Long.toString(job.getSpec().seed()),
        "--planner", job.getSpec().data().packing().planner() == PackingPlanner.FIRST_FIT_DECREASING
            ? "first-fit-decreasing" : "bin-completion"));
    var labels = Labels.of(job, Labels.PACK);
    labels.put(Labels.STAGE, stage.name());
    labels.put(Labels.PACK_STEP, step.argument());
    DataJobResourcesSpec resources = job.getSpec().data().packing().resources();
    return DataJobs.job(job, Names.packJob(job, stage.name(), step), labels, settings, args,
        step.indexed() ? tasks : 1, step.indexed() ? pods : 1,
        resources != null ? resources.or(DEFAULT_RESOURCES) : DEFAULT_RESOURCES);
  }

  /** The planner holds every sample's length and place in memory (about 100 bytes each): 29M samples fit in 8Gi. */
  static final DataJobResourcesSpec DEFAULT_RESOURCES = new DataJobResourcesSpec(PackingSizing.DEFAULT_CPU, "8Gi");

  static int visualTokens(MultimodalPretrainJob job, StageSpec stage) {
    return stage.visualTokens() != null ? stage.visualTokens() : job.getSpec().data().packing().visualTokens();
  }
}
