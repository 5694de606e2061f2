package dev.kiln.api.runconfig;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.kiln.api.Canonical;
import dev.kiln.api.v1alpha1.BatchSpec;
import dev.kiln.api.v1alpha1.BudgetSpec;
import dev.kiln.api.v1alpha1.CollectiveBackend;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.OptimizerSpec;
import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.api.v1alpha1.Precision;
import dev.kiln.api.v1alpha1.ShardingStrategy;
import dev.kiln.api.v1alpha1.TrainablePart;
import java.util.List;

/**
 * Everything one training stage's pods need, rendered by the operator into a ConfigMap. The
 * trainer never reads the custom resource; rank comes from the environment, not from here.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RunConfig(
    String apiVersion,
    String job,
    String namespace,
    String stage,
    int stageIndex,
    long seed,
    ModelDimensions model,
    Weights initialWeights,
    Data data,
    List<TrainablePart> trainable,
    OptimizerSpec optimizer,
    BudgetSpec budget,
    BatchSpec batch,
    World world,
    Precision precision,
    Checkpoints checkpoints,
    String metricsDir,
    Boolean recomputeActivations) {

  /**
   * What a checkpoint must have been trained under to be resumed by this stage: everything that
   * shapes the weights and the data order (model, data, trainable parts, AdamW and its schedule's
   * shape, budget, global batch, seed, starting point), not where ranks run or where files go, so
   * that a stage resumes on another number of ranks but never on another recipe. The peak learning
   * rate, its warmup and the precision are left out: lowering them is how a run that diverged
   * continues from its last checkpoint.
   */
  public String trainingHash() {
    // What the weights must hash to is a check, not part of what is trained: a pinned re-run resumes the same checkpoints.
    Weights weights = initialWeights == null ? null : new Weights(initialWeights.languageModel(), initialWeights.visionEncoder());
    return Canonical.sha256(new TrainingIdentity(job, stage, seed, model, weights, data, trainable,
        new AdamWIdentity(optimizer.weightDecay(), optimizer.schedule(), optimizer.minLrRatio(), optimizer.gradClip(),
            optimizer.beta1(), optimizer.beta2(), optimizer.eps()),
        budget, batch.globalBatchSize(), checkpoints.initFrom()));
  }

  /** The training hash checkpoints written before the learning rate and precision could change carry. */
  public String trainingHashWithLearningRateAndPrecision() {
    return Canonical.sha256(new TrainingIdentityWithSchedule(job, stage, seed, model, initialWeights, data, trainable,
        optimizer, budget, batch.globalBatchSize(), precision, checkpoints.initFrom()));
  }

  private record TrainingIdentity(String job, String stage, long seed, ModelDimensions model, Weights initialWeights,
      Data data, List<TrainablePart> trainable, AdamWIdentity optimizer, BudgetSpec budget, Integer globalBatchSize,
      String initFrom) {}

  private record AdamWIdentity(Double weightDecay, OptimizerSpec.Schedule schedule, Double minLrRatio, Double gradClip,
      Double beta1, Double beta2, Double eps) {}

  private record TrainingIdentityWithSchedule(String job, String stage, long seed, ModelDimensions model,
      Weights initialWeights, Data data, List<TrainablePart> trainable, OptimizerSpec optimizer, BudgetSpec budget,
      Integer globalBatchSize, Precision precision, String initFrom) {}

  /** Version of this document; the trainer refuses versions it does not know. */
  public static final String API_VERSION = "kiln.dev/run-config/v1";

  /**
   * Initial weights inside the pod, when the job starts from pretrained models; {@code
   * pinnedSha256}, when the job pins them, is what they must hash to before training starts.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Weights(String languageModel, String visionEncoder, String pinnedSha256) {

    public Weights(String languageModel, String visionEncoder) {
      this(languageModel, visionEncoder, null);
    }
  }

  /** Packed training data and how to read it. */
  public record Data(String packedDir, String tokenizer, int sequenceLength, int visualTokens,
      PackedAttention packedAttention) {}

  /** The gang: nodes, ranks per node, sharding, rendezvous port, and how ranks exchange tensors. */
  public record World(int nodes, int gpusPerNode, int worldSize, ShardingStrategy sharding, int masterPort,
      CollectiveBackend collectives) {

    public World {
      // Run configs written before the field existed: what the operator would choose now.
      collectives = CollectiveBackend.forStage(collectives, gpusPerNode);
    }

    public World(int nodes, int gpusPerNode, int worldSize, ShardingStrategy sharding, int masterPort) {
      this(nodes, gpusPerNode, worldSize, sharding, masterPort, null);
    }
  }

  /** Where to write checkpoints and what to start from. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Checkpoints(String dir, int intervalSteps, int keepLast, String initFrom) {}
}
