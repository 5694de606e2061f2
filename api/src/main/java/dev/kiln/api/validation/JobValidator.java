package dev.kiln.api.validation;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.Canonical;
import dev.kiln.api.data.ShardPattern;
import dev.kiln.api.v1alpha1.BatchSpec;
import dev.kiln.api.v1alpha1.Bounds;
import dev.kiln.api.v1alpha1.BudgetSpec;
import dev.kiln.api.v1alpha1.CheckpointSpec;
import dev.kiln.api.v1alpha1.CollectiveBackend;
import dev.kiln.api.v1alpha1.DataJobResourcesSpec;
import dev.kiln.api.v1alpha1.DataSourceSpec;
import dev.kiln.api.v1alpha1.DataSpec;
import dev.kiln.api.v1alpha1.FilterSpec;
import dev.kiln.api.v1alpha1.ImagesSpec;
import dev.kiln.api.v1alpha1.InitialWeightsSpec;
import dev.kiln.api.v1alpha1.LanguageModelSpec;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.ModelSpec;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobSpec;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.v1alpha1.OptimizerSpec;
import dev.kiln.api.v1alpha1.PackingSpec;
import dev.kiln.api.v1alpha1.PodSettingsSpec;
import dev.kiln.api.v1alpha1.Precision;
import dev.kiln.api.v1alpha1.ResourcesSpec;
import dev.kiln.api.v1alpha1.SchedulingSpec;
import dev.kiln.api.v1alpha1.ShardingStrategy;
import dev.kiln.api.v1alpha1.StageSpec;
import dev.kiln.api.v1alpha1.StageStatus;
import dev.kiln.api.v1alpha1.TopologySpec;
import dev.kiln.api.v1alpha1.VisionEncoderSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Everything wrong with a job: first what the API server would refuse (the generated CRD's schema
 * and CEL rules, through {@link CrdSchema}), then what a schema cannot say (divisibility of model
 * dimensions, references between fields, batch arithmetic, paths that stay inside a volume), which
 * the operator reports as {@code Failed/InvalidSpec}. Messages start with the field path.
 */
public final class JobValidator {

  /** Longest job name whose children (job-stage-aNNNN-index) still fit a 63-character hostname. */
  public static final int MAX_JOB_NAME = 30;
  /** A pod's hostname is a DNS label. */
  static final int HOSTNAME = 63;

  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern DNS_SUBDOMAIN = Pattern.compile("[a-z0-9]([-.a-z0-9]*[a-z0-9])?");
  private static final Pattern SHORT_NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?");
  private static final Pattern LABEL_VALUE = Pattern.compile("([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]");
  private static final Pattern BRACE = Pattern.compile("\\{([^{}]*)}");
  private static final Pattern RANGE = Pattern.compile("(\\d+)\\.\\.(\\d+)");
  private static final Set<String> ACCESS_MODES = Set.of("ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod", "ReadOnlyMany");

  private static final ObjectMapper SERIALIZER = new ObjectMapper();

  private final List<Violation> violations = new ArrayList<>();

  private JobValidator() {}

  /** All problems of a job as a user wrote it; empty when it may run. */
  public static List<Violation> validate(MultimodalPretrainJob job) {
    List<Violation> server = apiServerRules(job);
    JobValidator v = new JobValidator();
    v.metadata(job);
    if (job.getSpec() == null) {
      v.add("spec", "required");
    } else {
      v.spec(job.getSpec());
      v.podHostnames(job);
    }
    // One message per field: where the API server's rules already speak, theirs is the one a user will see.
    Set<String> reported = new HashSet<>();
    server.forEach(violation -> reported.add(violation.field()));
    List<Violation> all = new ArrayList<>(server);
    v.violations.stream().filter(violation -> !reported.contains(violation.field())).forEach(all::add);
    return List.copyOf(all);
  }

  /** What the API server itself would refuse on create: the CRD's schema and CEL rules. */
  public static List<Violation> apiServerRules(MultimodalPretrainJob job) {
    return CrdSchema.multimodalPretrainJob().validate(SERIALIZER.valueToTree(withoutStatus(job)));
  }

  private static MultimodalPretrainJob withoutStatus(MultimodalPretrainJob job) {
    MultimodalPretrainJob copy = new MultimodalPretrainJob();
    copy.setMetadata(job.getMetadata());
    copy.setSpec(job.getSpec());
    return copy;
  }

  /**
   * Problems with a change to a job that already started: a started stage's spec, and the model,
   * which the CRD makes immutable from creation (this catches an API server that did not evaluate
   * the rule: the operator pins the model when it first accepts the job).
   */
  public static List<Violation> validateChange(MultimodalPretrainJobSpec spec, MultimodalPretrainJobStatus status) {
    JobValidator v = new JobValidator();
    if (status == null || spec == null) {
      return List.of();
    }
    if (status.getReproducibility() != null && status.getReproducibility().getModelHash() != null
        && !status.getReproducibility().getModelHash().equals(Canonical.sha256(spec.model()))) {
      v.add("spec.model", "is immutable once the job is created; create a new job for another model");
    }
    for (StageStatus stage : status.getStages()) {
      if (stage.getSpecHash() == null) {
        continue;
      }
      int index = indexOf(spec, stage.getName());
      if (index < 0) {
        v.add("spec.stages", "stage \"" + stage.getName() + "\" has started and cannot be removed");
      } else if (!stage.getSpecHash().equals(stageHash(spec.stages().get(index)))
          && !stage.getSpecHash().equals(hashBeforeRecoveryFields(spec.stages().get(index)))) {
        v.add("spec.stages[" + index + "]", "stage \"" + stage.getName() + "\" has started; only "
            + CHANGEABLE_WHEN_STARTED + " may change (revert the edit, or create a new job)");
      }
    }
    return List.copyOf(v.violations);
  }

  /**
   * The hash that pins a started stage: its spec without what a new attempt may change. The
   * training itself (data, model parts, AdamW and its schedule's shape, budget, global batch, world
   * size, sharding, attention) is the trainer's checkpoint identity and stays; the peak learning
   * rate, its warmup and the precision (how a diverged run continues), the pods' resources and
   * settings, the restart policy, the micro batch (the same global batch), recomputation, the checkpoint interval,
   * the collectives and the promotion gate take effect at the stage's next attempt.
   */
  public static String stageHash(StageSpec stage) {
    ResourcesSpec resources = stage.resources();
    OptimizerSpec adamW = stage.optimizer();
    OptimizerSpec shape = adamW == null ? null : new OptimizerSpec(1.0, adamW.weightDecay(), 0.0, adamW.schedule(),
        adamW.minLrRatio(), adamW.gradClip(), adamW.beta1(), adamW.beta2(), adamW.eps());
    StageSpec pinned = new StageSpec(stage.name(), stage.sources(), stage.visualTokens(), stage.trainable(),
        shape, stage.budget(), new BatchSpec(stage.batch().globalBatchSize(), null),
        new ResourcesSpec(resources.nodes(), resources.gpusPerNode(), resources.gpuProduct(), null, null, null),
        stage.sharding(), null, stage.packedAttention(), null, null, stage.initFrom(), null, null, null, null, null);
    return Canonical.sha256(pinned);
  }

  /** What a started stage may change, at its next attempt (see {@link #stageHash}). */
  public static final String CHANGEABLE_WHEN_STARTED = "optimizer.lr, optimizer.warmupRatio, precision, resources.cpu, "
      + "resources.memory, resources.gpuMemory, resources.topology, pod, maxRestarts, nonRetryableExitCodes, batch.microBatchSize, "
      + "recomputeActivations, "
      + "checkpointIntervalSteps, collectives and promotion";

  /** The hash stages started by earlier operators were pinned with: everything but the promotion gate. */
  static String hashBeforeRecoveryFields(StageSpec stage) {
    StageSpec pinned = new StageSpec(stage.name(), stage.sources(), stage.visualTokens(), stage.trainable(),
        stage.optimizer(), stage.budget(), stage.batch(), stage.resources(), stage.sharding(), stage.precision(),
        stage.packedAttention(), null, stage.checkpointIntervalSteps(), stage.initFrom(), null, stage.maxRestarts(),
        stage.nonRetryableExitCodes(), stage.collectives(), null);
    return Canonical.sha256(pinned);
  }

  private static int indexOf(MultimodalPretrainJobSpec spec, String stageName) {
    for (int i = 0; spec.stages() != null && i < spec.stages().size(); i++) {
      if (stageName.equals(spec.stages().get(i).name())) {
        return i;
      }
    }
    return -1;
  }

  private void metadata(MultimodalPretrainJob job) {
    String name = job.getMetadata() == null ? null : job.getMetadata().getName();
    if (name == null || name.isEmpty()) {
      add("metadata.name", "required");
    } else if (!DNS_LABEL.matcher(name).matches()) {
      add("metadata.name", "must be a DNS label (lower-case letters, digits, '-'), found \"" + name + "\"");
    } else if (name.length() > MAX_JOB_NAME) {
      add("metadata.name", "at most " + MAX_JOB_NAME + " characters so child Job and pod names fit, found "
          + name.length());
    } else if (!Character.isLetter(name.charAt(0))) {
      add("metadata.name", "must start with a letter: each stage's Service is named " + name + "-<stage>, and"
          + " Service names start with a letter");
    }
  }

  /**
   * Each filter Job's pods are named, and take as hostname, {@code <job>-filter-<source>-<index>},
   * which must fit a 63-character DNS label up to the last completion index.
   */
  private void podHostnames(MultimodalPretrainJob job) {
    String name = job.getMetadata() == null ? null : job.getMetadata().getName();
    List<DataSourceSpec> sources = job.getSpec().data() == null ? null : job.getSpec().data().sources();
    if (name == null || sources == null) {
      return;
    }
    for (int i = 0; i < sources.size(); i++) {
      DataSourceSpec source = sources.get(i);
      if (source.filter() == null || source.name() == null || source.shards() == null || source.shardsPerTask() < 1) {
        continue;
      }
      long tasks;
      try {
        tasks = (ShardPattern.count(source.shards()) + source.shardsPerTask() - 1) / source.shardsPerTask();
      } catch (IllegalArgumentException e) {
        continue;  // the pattern's own problem is reported at its field
      }
      String last = name + "-filter-" + source.name() + "-" + (tasks - 1);
      if (tasks >= 1 && last.length() > HOSTNAME) {
        add("spec.data.sources[" + i + "].name", "the filter pods' hostnames reach " + last.length()
            + " characters (" + last + ", at most " + HOSTNAME + "): shorten the job's or the source's name, or raise"
            + " shardsPerTask (" + source.shardsPerTask() + ") for fewer than " + tasks + " tasks");
      }
    }
  }

  private void spec(MultimodalPretrainJobSpec spec) {
    ModelDimensions dims = model(spec.model());
    packing(spec.data(), spec.model());
    data(spec.data());
    stages(spec, dims);
    checkpoints(spec.checkpoints(), spec.stages());
    scheduling(spec.scheduling());
    images(spec.images());
    if (spec.data() != null) {
      podSettings("spec.data.pod", spec.data().pod());
    }
    for (int i = 0; spec.stages() != null && i < spec.stages().size(); i++) {
      podSettings("spec.stages[" + i + "].pod", spec.stages().get(i).pod());
    }
    if (spec.ttlSecondsAfterFinished() != null && spec.ttlSecondsAfterFinished() < 0) {
      add("spec.ttlSecondsAfterFinished", "must be >= 0");
    }
    if (spec.restartNonce() != null && spec.restartNonce().length() > 253) {
      add("spec.restartNonce", "at most 253 characters");
    }
  }

  // --- model ---------------------------------------------------------------------------------

  private ModelDimensions model(ModelSpec model) {
    if (model == null) {
      add("spec.model", "required");
      return null;
    }
    boolean explicit = model.vision() != null || model.languageModel() != null;
    if (model.preset() != null && explicit) {
      add("spec.model", "set either preset, or vision and languageModel, not both");
      return null;
    }
    if (model.preset() == null && (model.vision() == null || model.languageModel() == null)) {
      add("spec.model", "set preset (tiny, small, open-qwen2vl-2b), or both vision and languageModel");
      return null;
    }
    if (model.preset() == null) {
      boolean visionOk = vision(model.vision());
      boolean lmOk = languageModel(model.languageModel());
      if (model.projector() != null) {
        positive("spec.model.projector.hiddenSize", model.projector().hiddenSize());
      }
      if (!visionOk || !lmOk) {
        return null;
      }
    }
    initialWeights(model.initialWeights());
    return model.resolve();
  }

  private boolean vision(VisionEncoderSpec v) {
    String at = "spec.model.vision";
    int before = violations.size();
    positive(at + ".imageSize", v.imageSize());
    positive(at + ".patchSize", v.patchSize());
    positive(at + ".width", v.width());
    positive(at + ".heads", v.heads());
    positive(at + ".mlpDim", v.mlpDim());
    if (v.depth() == null || v.depth() < 2) {
      add(at + ".depth", "must be >= 2 (features come from the penultimate block)");
    }
    if (violations.size() > before) {
      return false;
    }
    if (v.imageSize() % v.patchSize() != 0) {
      add(at + ".patchSize", "must divide imageSize " + v.imageSize() + ", found " + v.patchSize());
    }
    if (v.width() % v.heads() != 0) {
      add(at + ".heads", "must divide width " + v.width() + ", found " + v.heads());
    }
    return violations.size() == before;
  }

  private boolean languageModel(LanguageModelSpec lm) {
    String at = "spec.model.languageModel";
    int before = violations.size();
    positive(at + ".hiddenSize", lm.hiddenSize());
    positive(at + ".layers", lm.layers());
    positive(at + ".heads", lm.heads());
    positive(at + ".kvHeads", lm.kvHeads());
    positive(at + ".intermediateSize", lm.intermediateSize());
    if (lm.vocabSize() == null || lm.vocabSize() < 8) {
      add(at + ".vocabSize", "must be >= 8");
    }
    if (lm.ropeTheta() <= 0) {
      add(at + ".ropeTheta", "must be > 0");
    }
    if (lm.rmsNormEps() <= 0) {
      add(at + ".rmsNormEps", "must be > 0");
    }
    if (violations.size() > before) {
      return false;
    }
    if (lm.hiddenSize() % lm.heads() != 0) {
      add(at + ".heads", "must divide hiddenSize " + lm.hiddenSize() + ", found " + lm.heads());
    } else if ((lm.hiddenSize() / lm.heads()) % 2 != 0) {
      add(at + ".heads", "head dimension hiddenSize/heads must be even for rotary embeddings, found "
          + lm.hiddenSize() / lm.heads());
    }
    if (lm.heads() % lm.kvHeads() != 0) {
      add(at + ".kvHeads", "must divide heads " + lm.heads() + " (grouped-query attention), found " + lm.kvHeads());
    }
    return violations.size() == before;
  }

  private void initialWeights(InitialWeightsSpec weights) {
    if (weights == null) {
      return;
    }
    String at = "spec.model.initialWeights";
    claimName(at + ".claimName", weights.claimName());
    relativePath(at + ".languageModel", weights.languageModel(), false);
    relativePath(at + ".visionEncoder", weights.visionEncoder(), false);
    relativePath(at + ".tokenizer", weights.tokenizer(), false);
  }

  // --- data ----------------------------------------------------------------------------------

  private void data(DataSpec data) {
    if (data == null) {
      add("spec.data", "required");
      return;
    }
    claimName("spec.data.claimName", data.claimName());
    if (data.sources() == null || data.sources().isEmpty()) {
      add("spec.data.sources", "at least one source is required");
      return;
    }
    if (data.sources().size() > 32) {
      add("spec.data.sources", "at most 32 sources, found " + data.sources().size());
    }
    Set<String> names = new HashSet<>();
    for (int i = 0; i < data.sources().size(); i++) {
      DataSourceSpec source = data.sources().get(i);
      String at = "spec.data.sources[" + i + "]";
      if (shortName(at + ".name", source.name()) && !names.add(source.name())) {
        add(at + ".name", "duplicate source name \"" + source.name() + "\"");
      }
      shardPattern(at + ".shards", source.shards());
      if (source.shardsPerTask() < 1) {
        add(at + ".shardsPerTask", "must be >= 1");
      }
      filter(at + ".filter", source.filter());
      dataJobResources(at + ".resources", source.resources());
      boolean modelScorer = source.filter() != null
          && (source.filter().clipScore() != null || source.filter().mlmFilter() != null);
      if (gpus(source.resources()) > 0 && !modelScorer) {
        add(at + ".resources.gpus", "only a model scorer (filter.clipScore or filter.mlmFilter) runs on GPUs, and this"
            + " source has none: its pods would hold " + gpus(source.resources()) + " GPU(s) idle");
      }
    }
    dataJobResources("spec.data.packing.resources", data.packing().resources());
    if (gpus(data.packing().resources()) > 0) {
      add("spec.data.packing.resources.gpus", "packing runs on CPUs only; GPUs are for a filter's model scorer"
          + " (spec.data.sources[].resources.gpus)");
    }
  }

  private void dataJobResources(String at, DataJobResourcesSpec resources) {
    if (resources != null) {
      quantity(at + ".cpu", resources.cpu());
      quantity(at + ".memory", resources.memory());
      if (resources.gpus() != null && (resources.gpus() < 0 || resources.gpus() > 1)) {
        add(at + ".gpus", "must be 0 or 1 (a scorer runs on one GPU; more pods score faster), found " + resources.gpus());
      }
    }
  }

  private static int gpus(DataJobResourcesSpec resources) {
    return resources == null || resources.gpus() == null ? 0 : resources.gpus();
  }

  private void filter(String at, FilterSpec filter) {
    if (filter == null) {
      return;
    }
    if (filter.count() == 0) {
      add(at, "set at least one of clipScore, precomputedScore, uidList, mlmFilter");
    }
    if (filter.clipScore() != null) {
      relativePath(at + ".clipScore.model", filter.clipScore().model(), true);
      Double min = filter.clipScore().min();
      if (min == null) {
        add(at + ".clipScore.min", "required (cosine similarity, -1 to 1)");
      } else if (min < -1 || min > 1) {
        add(at + ".clipScore.min", "must be within [-1, 1] (cosine similarity), found " + min);
      }
      if (filter.clipScore().batchSize() < 1) {
        add(at + ".clipScore.batchSize", "must be >= 1");
      }
    }
    if (filter.precomputedScore() != null) {
      String field = filter.precomputedScore().field();
      if (field == null || field.isBlank()) {
        add(at + ".precomputedScore.field", "required (a field of the sample's json, e.g. clip_score)");
      }
      if (filter.precomputedScore().min() == null) {
        add(at + ".precomputedScore.min", "required");
      }
    }
    if (filter.uidList() != null) {
      relativePath(at + ".uidList.path", filter.uidList().path(), true);
    }
    if (filter.mlmFilter() != null) {
      relativePath(at + ".mlmFilter.model", filter.mlmFilter().model(), true);
      int min = filter.mlmFilter().min();
      if (min < 0 || min > 100) {
        add(at + ".mlmFilter.min", "must be within [0, 100], found " + min);
      }
    }
  }

  private void packing(DataSpec data, ModelSpec model) {
    if (data == null) {
      return;
    }
    PackingSpec packing = data.packing();
    if (packing.sequenceLength() < 16 || packing.sequenceLength() > 131_072) {
      add("spec.data.packing.sequenceLength", "must be within [16, 131072], found " + packing.sequenceLength());
    }
    if (packing.visualTokens() < 1) {
      add("spec.data.packing.visualTokens", "must be >= 1");
    }
    boolean weightsTokenizer = model != null && model.initialWeights() != null
        && model.initialWeights().tokenizer() != null;
    if (packing.tokenizer() == null && !weightsTokenizer) {
      add("spec.data.packing.tokenizer", "required when spec.model.initialWeights.tokenizer is not set");
    }
    relativePath("spec.data.packing.tokenizer", packing.tokenizer(), false);
  }

  private void shardPattern(String at, String shards) {
    if (!relativePath(at, shards, true)) {
      return;
    }
    Matcher brace = BRACE.matcher(shards);
    while (brace.find()) {
      Matcher range = RANGE.matcher(brace.group(1));
      if (!range.matches()) {
        add(at, "brace group {" + brace.group(1) + "} must be a numeric range such as {00000..01302}");
        continue;
      }
      if (new BigDecimal(range.group(1)).compareTo(new BigDecimal(range.group(2))) > 0) {
        add(at, "brace range {" + brace.group(1) + "} runs backwards");
      }
    }
    if (shards.replaceAll("\\{[^{}]*}", "").matches(".*[{}].*")) {
      add(at, "unbalanced braces in \"" + shards + "\"");
    }
  }

  // --- stages --------------------------------------------------------------------------------

  private void stages(MultimodalPretrainJobSpec spec, ModelDimensions dims) {
    List<StageSpec> stages = spec.stages();
    if (stages == null || stages.isEmpty()) {
      add("spec.stages", "at least one stage is required");
      return;
    }
    if (stages.size() > 8) {
      add("spec.stages", "at most 8 stages, found " + stages.size());
    }
    List<String> earlier = new ArrayList<>();
    for (int i = 0; i < stages.size(); i++) {
      StageSpec stage = stages.get(i);
      String at = "spec.stages[" + i + "]";
      if (shortName(at + ".name", stage.name()) && earlier.contains(stage.name())) {
        add(at + ".name", "duplicate stage name \"" + stage.name() + "\"");
      } else if (stage.name() != null && stage.name().matches("a[0-9]+")) {
        // <job>-plan-a1 would be stage a1's plan Job and stage plan's first attempt alike.
        add(at + ".name", "\"" + stage.name() + "\" reads as an attempt number (a<N>), and child Job names would collide;"
            + " choose another name");
      }
      stageSources(at, stage, spec.data());
      visualTokens(at, stage, spec.data(), dims);
      if (stage.trainable().isEmpty()) {
        add(at + ".trainable", "at least one of vision, projector, languageModel");
      } else if (new HashSet<>(stage.trainable()).size() != stage.trainable().size()) {
        add(at + ".trainable", "lists a part twice");
      }
      optimizer(at + ".optimizer", stage.optimizer());
      budget(at + ".budget", stage.budget());
      resources(at + ".resources", stage.resources());
      if (stage.trainingPrecision() == Precision.FLOAT16_MIXED && stage.resources().gpusPerNode() == 0) {
        add(at + ".precision", "Float16Mixed needs a GPU stage (resources.gpusPerNode > 0); on CPUs float16 matrix"
            + " products are slower than Float32");
      }
      batch(at + ".batch", stage.batch(), stage.resources());
      if (stage.collectives() == CollectiveBackend.NCCL && stage.resources().gpusPerNode() == 0) {
        add(at + ".collectives", "Nccl needs a GPU stage (resources.gpusPerNode > 0); a CPU stage uses Tcp");
      }
      if (stage.sharding() == ShardingStrategy.HYBRID_SHARD && stage.resources().nodes() > 1) {
        add(at + ".sharding", "HYBRID_SHARD (sharded within a node, replicated across nodes) is not implemented across "
            + stage.resources().nodes() + " nodes yet: use FULL_SHARD or SHARD_GRAD_OP (sharded over every rank); on one"
            + " node HYBRID_SHARD is FULL_SHARD");
      }
      if (stage.checkpointIntervalSteps() < 1) {
        add(at + ".checkpointIntervalSteps", "must be >= 1");
      }
      if (stage.initFrom() != null && !earlier.contains(stage.initFrom())) {
        add(at + ".initFrom", stage.initFrom().equals(stage.name())
            ? "a stage cannot start from itself"
            : "must name an earlier stage (one of " + earlier + "), found \"" + stage.initFrom() + "\"");
      }
      if (stage.promotion().minStep() != null && stage.promotion().minStep() < 0) {
        add(at + ".promotion.minStep", "must be >= 0");
      }
      if (stage.maxRestarts() < 0 || stage.maxRestarts() > 1000) {
        add(at + ".maxRestarts", "must be within [0, 1000], found " + stage.maxRestarts());
      }
      for (int c = 0; c < stage.nonRetryableExitCodes().size(); c++) {
        Integer code = stage.nonRetryableExitCodes().get(c);
        if (code == null || code < 1 || code > 255) {
          add(at + ".nonRetryableExitCodes[" + c + "]", "must be an exit code within [1, 255], found " + code);
        }
      }
      if (stage.name() != null) {
        earlier.add(stage.name());
      }
    }
  }

  private void stageSources(String at, StageSpec stage, DataSpec data) {
    if (stage.sources() == null || stage.sources().isEmpty()) {
      add(at + ".sources", "at least one of spec.data.sources is required");
      return;
    }
    for (int s = 0; s < stage.sources().size(); s++) {
      String name = stage.sources().get(s);
      if (data != null && data.sources() != null && data.source(name) == null) {
        add(at + ".sources[" + s + "]", "no source named \"" + name + "\" in spec.data.sources");
      }
    }
  }

  private void visualTokens(String at, StageSpec stage, DataSpec data, ModelDimensions dims) {
    Integer tokens = stage.visualTokens() != null ? stage.visualTokens()
        : data != null ? data.packing().visualTokens() : null;
    if (tokens == null || tokens < 1) {
      add(at + ".visualTokens", "must be >= 1");
      return;
    }
    int side = (int) Math.round(Math.sqrt(tokens));
    if (side * side != tokens) {
      add(at + ".visualTokens", "must be a perfect square (the pooled patch grid is square), found " + tokens);
    } else if (dims != null && side > dims.vision().gridSize()) {
      add(at + ".visualTokens", "at most " + dims.vision().gridSize() * dims.vision().gridSize()
          + " (the encoder's " + dims.vision().gridSize() + "x" + dims.vision().gridSize()
          + " patch grid), found " + tokens);
    }
    if (data != null && tokens + 4 > data.packing().sequenceLength()) {
      add(at + ".visualTokens", tokens + " visual tokens plus BOS, newline, a word and EOS do not fit "
          + "spec.data.packing.sequenceLength " + data.packing().sequenceLength());
    }
  }

  private void optimizer(String at, OptimizerSpec o) {
    if (o == null) {
      add(at, "required");
      return;
    }
    if (o.lr() == null || o.lr() <= 0 || o.lr() > 1) {
      add(at + ".lr", "required, within (0, 1], found " + o.lr());
    }
    within(at + ".weightDecay", o.weightDecay(), 0, 1, true);
    within(at + ".warmupRatio", o.warmupRatio(), 0, 1, false);
    within(at + ".minLrRatio", o.minLrRatio(), 0, 1, true);
    within(at + ".beta1", o.beta1(), 0, 1, false);
    within(at + ".beta2", o.beta2(), 0, 1, false);
    if (o.gradClip() < 0) {
      add(at + ".gradClip", "must be >= 0 (0 disables clipping)");
    }
    if (o.eps() <= 0) {
      add(at + ".eps", "must be > 0");
    }
  }

  private void budget(String at, BudgetSpec b) {
    if (b == null) {
      add(at, "required: one of tokens, steps, epochs");
      return;
    }
    int set = (b.tokens() != null ? 1 : 0) + (b.steps() != null ? 1 : 0) + (b.epochs() != null ? 1 : 0);
    if (set != 1) {
      add(at, "set exactly one of tokens, steps, epochs, found " + set);
    }
    if (b.tokens() != null && b.tokens() < 1) {
      add(at + ".tokens", "must be >= 1");
    }
    if (b.steps() != null && b.steps() < 1) {
      add(at + ".steps", "must be >= 1");
    }
    if (b.epochs() != null && b.epochs() < 1) {
      add(at + ".epochs", "must be >= 1");
    }
  }

  private void resources(String at, ResourcesSpec r) {
    if (r.nodes() < 1 || r.nodes() > 1024) {
      add(at + ".nodes", "must be within [1, 1024], found " + r.nodes());
    }
    if (r.gpusPerNode() < 0 || r.gpusPerNode() > 16) {
      add(at + ".gpusPerNode", "must be within [0, 16], found " + r.gpusPerNode());
    }
    if (r.gpuProduct() != null) {
      if (r.gpusPerNode() == 0) {
        add(at + ".gpuProduct", "set, but gpusPerNode is 0 (a CPU stage has no GPU product)");
      } else if (r.gpuProduct().length() > 63 || !LABEL_VALUE.matcher(r.gpuProduct()).matches()) {
        add(at + ".gpuProduct", "must be a label value such as NVIDIA-A100-SXM4-40GB, found \"" + r.gpuProduct() + "\"");
      }
    }
    quantity(at + ".cpu", r.cpu());
    quantity(at + ".memory", r.memory());
    quantity(at + ".gpuMemory", r.gpuMemory());
    if (r.topology() != null) {
      TopologySpec topology = r.topology();
      if ((topology.required() == null) == (topology.preferred() == null)) {
        add(at + ".topology", "set either required or preferred (a node label)");
      } else if (r.gpusPerNode() == 0) {
        add(at + ".topology", "is for GPU stages (gpusPerNode > 0): a CPU stage's pods are not planned onto nodes");
      } else {
        String field = at + ".topology." + (topology.required() != null ? "required" : "preferred");
        if (!isQualifiedName(topology.key())) {
          add(field, "must be a node label key (an optional DNS prefix and /, then 63 characters), found \""
              + topology.key() + "\"");
        }
      }
    }
  }

  private void batch(String at, BatchSpec b, ResourcesSpec r) {
    positive(at + ".globalBatchSize", b.globalBatchSize());
    positive(at + ".microBatchSize", b.microBatchSize());
    if (b.globalBatchSize() < 1 || b.microBatchSize() < 1 || r.nodes() < 1 || r.gpusPerNode() < 0) {
      return;
    }
    long perStep = (long) b.microBatchSize() * r.worldSize();
    if (b.globalBatchSize() % perStep != 0) {
      add(at + ".globalBatchSize", "must be a multiple of microBatchSize x ranks = " + b.microBatchSize() + " x "
          + r.worldSize() + " = " + perStep + ", found " + b.globalBatchSize());
    }
  }

  // --- checkpoints, scheduling, images -------------------------------------------------------

  private void checkpoints(CheckpointSpec c, List<StageSpec> stages) {
    String at = "spec.checkpoints";
    if (c.existingClaim() != null && c.volumeClaim() != null) {
      add(at, "set either existingClaim or volumeClaim, not both");
    }
    if (c.existingClaim() != null) {
      claimName(at + ".existingClaim", c.existingClaim());
    }
    if (c.keepLast() < 1) {
      add(at + ".keepLast", "must be >= 1");
    }
    CheckpointSpec.VolumeClaimSpec claim = c.volumeClaim();
    if (claim == null) {
      return;
    }
    if (quantity(at + ".volumeClaim.size", claim.size()) && new Quantity(claim.size()).getNumericalAmount().signum() <= 0) {
      add(at + ".volumeClaim.size", "must be > 0");
    }
    if (claim.storageClassName() != null && !dnsSubdomain(claim.storageClassName())) {
      add(at + ".volumeClaim.storageClassName", "must be a DNS subdomain, found \"" + claim.storageClassName() + "\"");
    }
    if (claim.accessModes().isEmpty()) {
      add(at + ".volumeClaim.accessModes", "at least one access mode");
    }
    for (int i = 0; i < claim.accessModes().size(); i++) {
      if (!ACCESS_MODES.contains(claim.accessModes().get(i))) {
        add(at + ".volumeClaim.accessModes[" + i + "]", "must be one of " + ACCESS_MODES.stream().sorted().toList()
            + ", found \"" + claim.accessModes().get(i) + "\"");
      }
    }
    if (stages != null && !claim.accessModes().contains("ReadWriteMany")) {
      for (int i = 0; i < stages.size(); i++) {
        if (stages.get(i).resources().nodes() > 1) {
          add(at + ".volumeClaim.accessModes", "must include ReadWriteMany: spec.stages[" + i + "] runs on "
              + stages.get(i).resources().nodes() + " nodes that all write checkpoints");
          break;
        }
      }
    }
  }

  private void scheduling(SchedulingSpec s) {
    if (s.queue() == null || !DNS_LABEL.matcher(s.queue()).matches() || s.queue().length() > Bounds.LABEL) {
      add("spec.scheduling.queue", "must be a DNS label of at most " + Bounds.LABEL + " characters (a TrainingQueue, or "
          + "a Kueue LocalQueue, whose name is a label value), found \"" + s.queue() + "\"");
    }
    for (var name : new String[][] {{"priorityClassName", s.priorityClassName()},
        {"workloadPriorityClassName", s.workloadPriorityClassName()}}) {
      if (name[1] != null && !dnsSubdomain(name[1])) {
        add("spec.scheduling." + name[0], "must be a DNS subdomain (a PriorityClass's name), found \"" + name[1] + "\"");
      }
    }
    if (s.workloadPriorityClassName() != null && s.mode() != SchedulingSpec.Mode.KUEUE) {
      add("spec.scheduling.workloadPriorityClassName", "is read by Kueue only (mode: Kueue); a Builtin queue orders jobs "
          + "by spec.scheduling.priorityClassName");
    }
    if (s.startupDeadlineSeconds() < 1) {
      add("spec.scheduling.startupDeadlineSeconds", "must be >= 1");
    }
    if (s.progressDeadlineSeconds() < 1) {
      add("spec.scheduling.progressDeadlineSeconds", "must be >= 1");
    }
  }

  private void images(ImagesSpec images) {
    if (images == null) {
      return;
    }
    image("spec.images.trainer", images.trainer());
    image("spec.images.dataJobs", images.dataJobs());
  }

  private void image(String at, String reference) {
    if (reference != null && (reference.isBlank() || reference.chars().anyMatch(Character::isWhitespace))) {
      add(at, "must be an image reference without spaces, found \"" + reference + "\"");
    }
  }

  /** Label and annotation prefixes that are Kiln's, the Job controller's or Kueue's to set. */
  private static final List<String> RESERVED_PREFIXES = List.of("kiln.dev/", "app.kubernetes.io/",
      "batch.kubernetes.io/", "kueue.x-k8s.io/");
  private static final Set<String> RESERVED_LABELS = Set.of("job-name", "controller-uid");
  /** Environment variables Kiln's programs are configured by. */
  private static final Pattern RESERVED_ENV = Pattern.compile(
      "KILN_.*|DJL_.*|MASTER_ADDR|MASTER_PORT|WORLD_SIZE|HOME|OPT_OUT_TRACKING|JAVA_TOOL_OPTIONS");
  private static final Pattern QUALIFIED_NAME = Pattern.compile(Bounds.LABEL_KEY_PATTERN);
  private static final Pattern ENV_NAME = Pattern.compile("[-._a-zA-Z][-._a-zA-Z0-9]*");
  private static final Set<String> TAINT_EFFECTS = Set.of("", "NoSchedule", "PreferNoSchedule", "NoExecute");

  private void podSettings(String at, PodSettingsSpec pod) {
    if (pod == null) {
      return;
    }
    pod.nodeSelector().forEach((key, value) -> {
      qualifiedName(at + ".nodeSelector", key);
      if (!value.isEmpty() && !LABEL_VALUE.matcher(value).matches()) {
        add(at + ".nodeSelector[" + key + "]", "must be a label value, found \"" + value + "\"");
      }
    });
    for (int i = 0; i < pod.tolerations().size(); i++) {
      var toleration = pod.tolerations().get(i);
      String operator = toleration.getOperator() == null ? "Equal" : toleration.getOperator();
      if (!operator.equals("Equal") && !operator.equals("Exists")) {
        add(at + ".tolerations[" + i + "].operator", "must be Equal or Exists, found \"" + operator + "\"");
      } else if (operator.equals("Exists") && toleration.getValue() != null && !toleration.getValue().isEmpty()) {
        add(at + ".tolerations[" + i + "].value", "must be empty when operator is Exists");
      } else if (operator.equals("Equal") && (toleration.getKey() == null || toleration.getKey().isEmpty())) {
        add(at + ".tolerations[" + i + "].key", "required unless operator is Exists");
      }
      if (toleration.getEffect() != null && !TAINT_EFFECTS.contains(toleration.getEffect())) {
        add(at + ".tolerations[" + i + "].effect", "must be NoSchedule, PreferNoSchedule or NoExecute, found \""
            + toleration.getEffect() + "\"");
      }
    }
    for (var name : new String[][] {{"priorityClassName", pod.priorityClassName()},
        {"serviceAccountName", pod.serviceAccountName()}, {"runtimeClassName", pod.runtimeClassName()}}) {
      if (name[1] != null && !dnsSubdomain(name[1])) {
        add(at + "." + name[0], "must be a DNS subdomain, found \"" + name[1] + "\"");
      }
    }
    pod.extraResources().forEach((name, amount) -> {
      String field = at + ".extraResources[" + name + "]";
      if (!name.contains("/") || !QUALIFIED_NAME.matcher(name).matches() || name.startsWith("kubernetes.io/")
          || name.startsWith("requests.")) {
        add(field, "must be an extended resource named by its domain (for example rdma/ib), found \"" + name + "\"");
      } else if (name.equals("nvidia.com/gpu")) {
        add(field, "GPUs are resources.gpusPerNode");
      } else if (!amount.matches("[1-9][0-9]{0,8}")) {
        add(field, "must be a positive whole number (extended resources are counted), found \"" + amount + "\"");
      }
    });
    metadataKeys(at + ".labels", pod.labels(), true);
    metadataKeys(at + ".annotations", pod.annotations(), false);
    Set<String> names = new HashSet<>();
    for (int i = 0; i < pod.env().size(); i++) {
      String name = pod.env().get(i).getName();
      if (name == null || !ENV_NAME.matcher(name).matches()) {
        add(at + ".env[" + i + "].name", "must be an environment variable name, found \"" + name + "\"");
      } else if (RESERVED_ENV.matcher(name).matches()) {
        add(at + ".env[" + i + "].name", name + " is set by Kiln");
      } else if (!names.add(name)) {
        add(at + ".env[" + i + "].name", "duplicate \"" + name + "\"");
      }
    }
  }

  private void metadataKeys(String at, Map<String, String> entries, boolean labels) {
    entries.forEach((key, value) -> {
      if (!qualifiedName(at, key)) {
        return;
      }
      if (RESERVED_PREFIXES.stream().anyMatch(key::startsWith) || (labels && RESERVED_LABELS.contains(key))) {
        add(at + "[" + key + "]", "is Kiln's to set (kiln.dev/, app.kubernetes.io/, batch.kubernetes.io/ and "
            + "kueue.x-k8s.io/ keys are reserved)");
      } else if (labels && !value.isEmpty() && !LABEL_VALUE.matcher(value).matches()) {
        add(at + "[" + key + "]", "must be a label value (63 characters of letters, digits, -, _ and .), found \""
            + value + "\"");
      }
    });
  }

  private boolean qualifiedName(String at, String key) {
    boolean valid = isQualifiedName(key);
    if (!valid) {
      add(at + "[" + key + "]", "must be a qualified name (an optional DNS prefix and /, then 63 characters)");
    }
    return valid;
  }

  /** A label or annotation key: an optional DNS prefix of at most 253 characters and /, then a name of at most 63. */
  private static boolean isQualifiedName(String key) {
    int slash = key.indexOf('/');
    return QUALIFIED_NAME.matcher(key).matches() && slash <= 253;
  }

  // --- field helpers -------------------------------------------------------------------------

  private boolean shortName(String at, String name) {
    if (name == null || name.isEmpty()) {
      add(at, "required");
      return false;
    }
    if (!SHORT_NAME.matcher(name).matches()) {
      add(at, "must be a DNS label of at most 20 characters, found \"" + name + "\"");
      return false;
    }
    return true;
  }

  private void claimName(String at, String name) {
    if (name == null || name.isEmpty()) {
      add(at, "required");
    } else if (!dnsSubdomain(name)) {
      add(at, "must be a PersistentVolumeClaim name (DNS subdomain), found \"" + name + "\"");
    }
  }

  /** A Kubernetes object name: a DNS subdomain of at most 253 characters. */
  private static boolean dnsSubdomain(String name) {
    return name.length() <= Bounds.NAME && DNS_SUBDOMAIN.matcher(name).matches();
  }

  private boolean relativePath(String at, String path, boolean required) {
    if (path == null || path.isBlank()) {
      if (required) {
        add(at, "required");
      }
      return false;
    }
    if (path.startsWith("/")) {
      add(at, "must be relative to the volume's root, found \"" + path + "\"");
      return false;
    }
    for (String part : path.split("/")) {
      if (part.equals("..")) {
        add(at, "must stay inside the volume ('..' is not allowed), found \"" + path + "\"");
        return false;
      }
    }
    return true;
  }

  private boolean quantity(String at, String value) {
    if (value == null) {
      return false;
    }
    try {
      Quantity.getAmountInBytes(new Quantity(value));
      return true;
    } catch (RuntimeException e) {
      add(at, "must be a Kubernetes quantity such as 500m, 4, 64Gi, found \"" + value + "\"");
      return false;
    }
  }

  private void positive(String at, Integer value) {
    if (value == null) {
      add(at, "required");
    } else if (value < 1) {
      add(at, "must be >= 1, found " + value);
    }
  }

  private void within(String at, double value, double min, double max, boolean maxInclusive) {
    if (value < min || value > max || (!maxInclusive && value == max)) {
      add(at, "must be within [" + min + ", " + max + (maxInclusive ? "]" : ")") + ", found " + value);
    }
  }

  private void add(String field, String message) {
    violations.add(new Violation(field, message));
  }
}
