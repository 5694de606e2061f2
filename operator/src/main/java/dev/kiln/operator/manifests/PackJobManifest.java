package dev.kiln.operator.manifests;

import dev.kiln.api.runconfig.PodPaths;
import dev.kiln.api.v1alpha1.DataJobResourcesSpec;
import dev.kiln.api.v1alpha1.DataSourceSpec;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.PackingPlanner;
import dev.kiln.api.v1alpha1.SourceKind;
import dev.kiln.api.v1alpha1.StageSpec;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.util.ArrayList;
import java.util.List;

/**
 * The pack Job of one stage: first-fit-decreasing over all its sources' (filtered) shards at
 * the stage's visual tokens, in one pod, so the plan is global and deterministic.
 */
public final class PackJobManifest {

  /** The container of the data Jobs (filter and pack), as their pods report it. */
  public static final String CONTAINER = "data-jobs";

  private PackJobManifest() {}

  public static Job build(MultimodalPretrainJob job, StageSpec stage, OperatorSettings settings) {
    List<String> args = new ArrayList<>(List.of("pack"));
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
    DataJobResourcesSpec resources = job.getSpec().data().packing().resources();
    return DataJobs.job(job, Names.packJob(job, stage.name()), labels, settings, args, 1, 1,
        resources != null ? resources.or(DEFAULT_RESOURCES) : DEFAULT_RESOURCES);
  }

  /** The packer holds every sample's length and place in memory (about 100 bytes each): 29M samples fit in 8Gi. */
  static final DataJobResourcesSpec DEFAULT_RESOURCES = new DataJobResourcesSpec("1", "8Gi");

  static int visualTokens(MultimodalPretrainJob job, StageSpec stage) {
    return stage.visualTokens() != null ? stage.visualTokens() : job.getSpec().data().packing().visualTokens();
  }
}
