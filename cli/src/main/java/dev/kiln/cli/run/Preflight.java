package dev.kiln.cli.run;

import dev.kiln.api.data.ShardPattern;
import dev.kiln.api.sizing.ParameterCounts;
import dev.kiln.api.v1alpha1.DataSourceSpec;
import dev.kiln.api.v1alpha1.FilterSpec;
import dev.kiln.api.v1alpha1.InitialWeightsSpec;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.ShardingStrategy;
import dev.kiln.api.v1alpha1.StageSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What keeps a job from running on this machine, found before anything starts: files it reads that
 * are not in the folders {@code kiln run} gives its claims, and stages whose ranks cannot fit in
 * this machine's memory (every rank of every node runs here, on the CPU).
 */
public final class Preflight {

  /** One file or folder a job reads from a claim, and the field that names it. */
  record Input(String claim, String field, String path, Kind kind) {}

  /** What a path names: a brace pattern of shard files, one file, or a folder. */
  enum Kind { SHARDS, FILE, FOLDER }

  /** Bytes per parameter each rank holds whole: fp32 weights; and per trained parameter, its fp32 gradient. */
  static final long WEIGHT_BYTES = 4;
  static final long GRADIENT_BYTES = 4;
  /** AdamW's two fp32 moments per trained parameter, split between the ranks when the stage shards them. */
  static final long OPTIMIZER_BYTES = 8;

  private Preflight() {}

  /**
   * Every problem, one paragraph each, with what to do; empty when the job can start. {@code claims}
   * maps each claim the job reads to its folder here; {@code given} names those the user passed.
   */
  public static List<String> problems(MultimodalPretrainJob job, Map<String, Path> claims, Set<String> given,
      long memoryBytes) {
    List<String> problems = new ArrayList<>(missingInputs(job, claims, given));
    tooBig(job, memoryBytes).ifPresent(problems::add);
    return problems;
  }

  /** Per claim, the inputs missing from its folder, and the {@code --claim} that would provide them. */
  static List<String> missingInputs(MultimodalPretrainJob job, Map<String, Path> claims, Set<String> given) {
    Map<String, List<String>> missing = new LinkedHashMap<>();
    for (Input input : inputs(job)) {
      Path folder = claims.get(input.claim());
      String problem = input.kind() == Kind.SHARDS ? missingShards(folder, input.path())
          : missing(folder.resolve(input.path()), input.kind() == Kind.FOLDER);
      if (problem != null) {
        missing.computeIfAbsent(input.claim(), c -> new ArrayList<>())
            .add(input.field() + " " + input.path() + ": " + problem);
      }
    }
    List<String> problems = new ArrayList<>();
    missing.forEach((claim, lines) -> {
      Path folder = claims.get(claim);
      boolean empty = isEmpty(folder);
      StringBuilder text = new StringBuilder("claim " + claim + " (" + (given.contains(claim) ? "--claim " + claim + "="
          + folder : "no --claim " + claim + "=DIR given, so kiln run looked in " + folder) + ")" + (empty ? " is empty" : "")
          + ": the job reads");
      lines.forEach(line -> text.append("\n    ").append(line));
      text.append("\n  Put the files there, or pass the folder that holds them: --claim ").append(claim).append("=DIR");
      problems.add(text.toString());
    });
    return problems;
  }

  /** The files and folders the job reads from its claims: data of the sources its stages use, filters' files, weights. */
  static List<Input> inputs(MultimodalPretrainJob job) {
    var spec = job.getSpec();
    String data = spec.data().claimName();
    Set<String> used = new LinkedHashSet<>();
    spec.stages().forEach(stage -> used.addAll(stage.sources()));
    List<Input> inputs = new ArrayList<>();
    List<DataSourceSpec> sources = spec.data().sources();
    for (int i = 0; i < sources.size(); i++) {
      DataSourceSpec source = sources.get(i);
      if (!used.contains(source.name())) {
        continue;
      }
      String field = "spec.data.sources[" + i + "]";
      inputs.add(new Input(data, field + ".shards", source.shards(), Kind.SHARDS));
      FilterSpec filter = source.filter();
      if (filter != null && filter.uidList() != null) {
        inputs.add(new Input(data, field + ".filter.uidList.path", filter.uidList().path(), Kind.FILE));
      }
      if (filter != null && filter.clipScore() != null && filter.clipScore().model() != null) {
        inputs.add(new Input(data, field + ".filter.clipScore.model", filter.clipScore().model(), Kind.FOLDER));
      }
      if (filter != null && filter.mlmFilter() != null) {
        inputs.add(new Input(data, field + ".filter.mlmFilter.model", filter.mlmFilter().model(), Kind.FOLDER));
      }
    }
    InitialWeightsSpec weights = spec.model().initialWeights();
    if (spec.data().packing().tokenizer() != null) {
      inputs.add(new Input(data, "spec.data.packing.tokenizer", spec.data().packing().tokenizer(), Kind.FILE));
    } else if (weights != null && weights.tokenizer() != null) {
      inputs.add(new Input(weights.claimName(), "spec.model.initialWeights.tokenizer", weights.tokenizer(), Kind.FILE));
    }
    if (weights != null && weights.languageModel() != null) {
      inputs.add(new Input(weights.claimName(), "spec.model.initialWeights.languageModel", weights.languageModel(), Kind.FOLDER));
    }
    if (weights != null && weights.visionEncoder() != null) {
      inputs.add(new Input(weights.claimName(), "spec.model.initialWeights.visionEncoder", weights.visionEncoder(), Kind.FOLDER));
    }
    return inputs;
  }

  private static String missingShards(Path folder, String pattern) {
    List<String> shards = ShardPattern.expand(pattern);
    List<String> absent = shards.stream().filter(s -> !Files.isRegularFile(folder.resolve(s))).toList();
    if (absent.isEmpty()) {
      return null;
    }
    String which = absent.size() == shards.size() ? "none of the " + shards.size() + " shard(s) exist"
        : absent.size() + " of " + shards.size() + " shards missing";
    return which + " (first missing: " + absent.getFirst() + ")";
  }

  private static String missing(Path path, boolean folder) {
    if (folder ? Files.isDirectory(path) : Files.isRegularFile(path)) {
      return null;
    }
    return Files.exists(path) ? (folder ? "not a folder" : "not a file") : "missing";
  }

  private static boolean isEmpty(Path folder) {
    try (var entries = Files.list(folder)) {
      return entries.findAny().isEmpty();
    } catch (IOException e) {
      return true;
    }
  }

  /**
   * The first stage whose ranks cannot all fit in {@code memoryBytes}, counting only their weights,
   * gradients and optimizer state (activations come on top): a run that would exhaust the machine's
   * memory hours in is refused now, with what to change.
   */
  static Optional<String> tooBig(MultimodalPretrainJob job, long memoryBytes) {
    ModelDimensions dims = job.getSpec().model().resolve();
    long parameters = ParameterCounts.total(dims);
    for (StageSpec stage : job.getSpec().stages()) {
      int ranks = stage.resources().nodes() * Math.max(1, stage.resources().gpusPerNode());
      long trained = ParameterCounts.trained(dims, stage.trainable());
      boolean sharded = stage.sharding() == ShardingStrategy.FULL_SHARD || stage.sharding() == ShardingStrategy.SHARD_GRAD_OP;
      long perRank = parameters * WEIGHT_BYTES + trained * GRADIENT_BYTES
          + trained * OPTIMIZER_BYTES / (sharded ? ranks : 1);
      long needed = perRank * ranks;
      if (needed > memoryBytes) {
        return Optional.of("stage " + stage.name() + " does not fit on this machine: kiln run runs every rank"
            + " here, on the CPU, and its " + ranks + " rank(s) (" + stage.resources().nodes() + " node(s) x "
            + Math.max(1, stage.resources().gpusPerNode()) + ") each hold " + gigabytes(perRank) + " of weights, gradients"
            + " and optimizer state (" + stage.sharding() + ") for " + String.format("%.2f", parameters / 1e9)
            + " B parameters: "
            + gigabytes(needed) + " before activations, and this machine has " + gigabytes(memoryBytes) + ".\n"
            + "  kiln run is for models sized for a CPU (model.preset: tiny, as in examples/quickstart.yaml) and few"
            + " ranks; run this job on a cluster (kubectl apply -f), and see kiln estimate for its GPU-hours.");
      }
    }
    return Optional.empty();
  }

  private static String gigabytes(long bytes) {
    return String.format("%.1f GB", bytes / 1e9);
  }
}
