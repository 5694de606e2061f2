package dev.kiln.operator.manifests;

import dev.kiln.api.data.ShardPattern;
import dev.kiln.api.runconfig.PodPaths;
import dev.kiln.api.v1alpha1.DataJobResourcesSpec;
import dev.kiln.api.v1alpha1.DataSourceSpec;
import dev.kiln.api.v1alpha1.FilterSpec;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One Indexed Job per filtered source: index i filters shard group i (shardsPerTask shards)
 * and writes kept samples plus a report under the working volume.
 */
public final class FilterJobManifest {

  /** More parallel pods than this rarely help: filtering is I/O- and model-bound per node. */
  static final int MAX_PARALLELISM = 32;

  private FilterJobManifest() {}

  public static Job build(MultimodalPretrainJob job, DataSourceSpec source, OperatorSettings settings) {
    int tasks = tasks(source);
    List<String> args = new ArrayList<>(List.of(
        "filter",
        "--input", PodPaths.data(source.shards()),
        "--output", PodPaths.filtered(source.name()),
        "--shards-per-task", Integer.toString(source.shardsPerTask())));
    for (String filter : filterArguments(source.filter())) {
      args.add("--filter");
      args.add(filter);
    }
    args.add("--combine");
    args.add(source.filter().combine() == FilterSpec.FilterCombine.ANY_OF ? "any" : "all");
    if (source.filter().clipScore() != null || source.filter().mlmFilter() != null) {
      // Samples handed to the model-based filters at once: enough for the larger of their batches.
      args.add("--batch");
      args.add(Integer.toString(Math.max(
          source.filter().clipScore() != null ? source.filter().clipScore().batchSize() : 0,
          source.filter().mlmFilter() != null ? source.filter().mlmFilter().batchSize() : 0)));
    }

    DataJobResourcesSpec resources = source.resources() != null ? source.resources().or(defaultResources(source.filter()))
        : defaultResources(source.filter());
    if (DataJobs.gpus(resources) > 0) {
      args.add("--device");
      args.add("gpu");
    }

    var labels = Labels.of(job, Labels.FILTER);
    labels.put(Labels.SOURCE, source.name());
    return DataJobs.job(job, Names.filterJob(job, source.name()), labels, settings, args, tasks,
        Math.min(tasks, MAX_PARALLELISM), resources);
  }

  /**
   * What a filter task needs by its heaviest scorer: an MLM-Filter model (1.5B parameters, read
   * onto the heap and run in float32), a CLIP model, or only scores and uid lists to compare.
   */
  static DataJobResourcesSpec defaultResources(FilterSpec filter) {
    if (filter != null && filter.mlmFilter() != null) {
      return new DataJobResourcesSpec("8", "24Gi");
    }
    if (filter != null && filter.clipScore() != null) {
      return new DataJobResourcesSpec("4", "8Gi");
    }
    return new DataJobResourcesSpec("1", "4Gi");
  }

  /** Completion indexes: one per group of shardsPerTask shards. */
  public static int tasks(DataSourceSpec source) {
    long shards = ShardPattern.count(source.shards());
    return (int) Math.max(1, (shards + source.shardsPerTask() - 1) / source.shardsPerTask());
  }

  /** The data jobs' filter syntax: precomputed:field=F,min=X | uids:FILE | clip:model=DIR,min=X | mlm:model=DIR,min=N,metric=M,batch=B. */
  static List<String> filterArguments(FilterSpec filter) {
    List<String> out = new ArrayList<>();
    if (filter.precomputedScore() != null) {
      out.add("precomputed:field=" + filter.precomputedScore().field() + ",min=" + number(filter.precomputedScore().min()));
    }
    if (filter.uidList() != null) {
      out.add("uids:" + PodPaths.data(filter.uidList().path()));
    }
    if (filter.clipScore() != null) {
      out.add("clip:model=" + PodPaths.data(filter.clipScore().model()) + ",min=" + number(filter.clipScore().min()));
    }
    if (filter.mlmFilter() != null) {
      out.add("mlm:model=" + PodPaths.data(filter.mlmFilter().model()) + ",min=" + filter.mlmFilter().min()
          + ",metric=" + filter.mlmFilter().metric().name().toLowerCase(Locale.ROOT)
          + ",batch=" + filter.mlmFilter().batchSize());
    }
    return out;
  }

  private static String number(double value) {
    return value == Math.rint(value) && Math.abs(value) < 1e15 ? Long.toString((long) value) : Double.toString(value);
  }
}
