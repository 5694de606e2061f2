package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import java.util.List;

/** One training stage: its data, resolution, trainable parts, optimizer, budget and hardware. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record StageSpec(
    @Required @Pattern("^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$") @Size(max = Bounds.SHORT_NAME)
    @JsonPropertyDescription("DNS label, at most 20 characters; names the stage's Jobs.")
    String name,

    @Required @Size(min = 1, max = Bounds.SOURCES) @JsonPropertyDescription("Names of data.sources this stage trains on.")
    List<@Size(max = Bounds.SHORT_NAME) String> sources,

    @Min(1) @JsonPropertyDescription("Visual tokens per image, a perfect square (144 pre-training, 729 SFT); data.packing.visualTokens when unset.")
    Integer visualTokens,

    @Default("[\"projector\",\"languageModel\"]") @Size(min = 1, max = 3)
    @JsonPropertyDescription("Parts updated by this stage; the rest are frozen.")
    List<TrainablePart> trainable,

    @JsonPropertyDescription("AdamW and its learning-rate schedule.") @Required OptimizerSpec optimizer,

    @JsonPropertyDescription("How long the stage trains: exactly one of tokens, steps, epochs.") @Required BudgetSpec budget,

    @JsonPropertyDescription("Sequences per optimizer step and per forward pass.") BatchSpec batch,

    @JsonPropertyDescription("Nodes, GPUs, CPU and memory of each attempt.") ResourcesSpec resources,

    @Default("FULL_SHARD")
    @JsonPropertyDescription("How parameters, gradients and optimizer state are split across ranks (PyTorch FSDP names).")
    ShardingStrategy sharding,

    @JsonPropertyDescription("Float32, or Float16Mixed (float16 matrix products, float32 master weights, dynamic loss scaling) for GPU stages. Float32 when unset.")
    Precision precision,

    @Default("PerSample")
    @JsonPropertyDescription("PerSample: attention and positions restart at each packed sample. Continuous: the recipe's original behaviour.")
    PackedAttention packedAttention,

    @JsonPropertyDescription("Keep only each decoder block's input through the forward pass and run the block again when"
        + " backward reaches it: one block's activations in memory instead of every block's, for a second forward pass"
        + " of the decoder. Takes effect at the next attempt. False when unset.")
    Boolean recomputeActivations,

    @Default("1000") @Min(1) @JsonPropertyDescription("Optimizer steps between checkpoints.")
    Integer checkpointIntervalSteps,

    @Size(max = Bounds.SHORT_NAME) @JsonPropertyDescription("Start from the promoted checkpoint of this earlier stage.")
    String initFrom,

    @JsonPropertyDescription("When the stage's last checkpoint may start the next stage.") PromotionSpec promotion,

    @Default("3") @Min(0) @Max(1000) @JsonPropertyDescription("Failed attempts tolerated; disruptions (eviction, preemption) do not count.")
    Integer maxRestarts,

    @Default("[64,65,78]") @JsonPropertyDescription("Trainer exit codes that fail the job at once (64 usage, 65 data, 78 config).")
    @Size(max = 32) List<@Min(1) @Max(255) Integer> nonRetryableExitCodes,

    @JsonPropertyDescription("Tcp (a ring between the ranks) or Nccl (GPUs only). Unset: Nccl when the stage has GPUs, Tcp on CPU.")
    CollectiveBackend collectives,

    @JsonPropertyDescription("What the cluster asks of the stage's pods: node selector, tolerations, priority class, "
        + "service account, runtime class, extra resources (RDMA), labels, annotations, environment.")
    PodSettingsSpec pod) {

  public StageSpec {
    sources = sources != null ? List.copyOf(sources) : null;
    trainable = trainable != null ? List.copyOf(trainable) : List.of(TrainablePart.PROJECTOR, TrainablePart.LANGUAGE_MODEL);
    batch = batch != null ? batch : new BatchSpec(null, null);
    resources = resources != null ? resources : new ResourcesSpec(null, null, null, null, null, null);
    sharding = sharding != null ? sharding : ShardingStrategy.FULL_SHARD;
    packedAttention = packedAttention != null ? packedAttention : PackedAttention.PER_SAMPLE;
    checkpointIntervalSteps = checkpointIntervalSteps != null ? checkpointIntervalSteps : 1000;
    promotion = promotion != null ? promotion : new PromotionSpec(null, null, null, null);
    maxRestarts = maxRestarts != null ? maxRestarts : 3;
    nonRetryableExitCodes = nonRetryableExitCodes != null ? List.copyOf(nonRetryableExitCodes) : List.of(64, 65, 78);
    // precision, collectives and pod stay null when unset, so that the hash pinning stages started before they
    // existed does not change.
  }

  /** The stage's precision, Float32 when unset. */
  public Precision trainingPrecision() {
    return precision != null ? precision : Precision.FLOAT32;
  }
}
