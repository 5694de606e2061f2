package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;

/** Multimodal sequence packing: samples are planned into sequences of this length, over all of a stage's samples at once. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PackingSpec(
    @JsonPropertyDescription("Tokens per packed sequence (4096 in the recipe).") @Default("4096") @Min(16) @Max(131072) Integer sequenceLength,
    @Default("144") @Min(1) @JsonPropertyDescription("Visual tokens per image for stages that set none.") Integer visualTokens,
    @JsonPropertyDescription("tokenizer.json on the data claim (with its tokenizer_config.json beside it, the model's BOS and EOS); the initial weights' tokenizer when unset.") @Size(max = Bounds.PATH) String tokenizer,
    @JsonPropertyDescription("CPU and memory of each packing pod (prepare, plan, write and finish). Unset: 1 CPU and 8Gi.") DataJobResourcesSpec resources,
    @Default("BinCompletion") @JsonPropertyDescription("How samples are planned into sequences: BinCompletion completes each "
        + "sequence with the one or two samples that fill it best (about 0.999 of 4096 tokens on the recipe's captions); "
        + "FirstFitDecreasing is the recipe's own plan (about 0.98).") PackingPlanner planner,
    @Min(1) @Max(MAX_PARALLELISM) @JsonPropertyDescription("Pods at once in each stage's prepare and write Jobs, whose "
        + "tasks (one per 8 input shards) prepare (decode, resize, tokenize) an even run of the stage's input shards, then "
        + "write an even run of its packed shards; one pod plans over every sample's length between them. The packed "
        + "bytes are the same for any number. "
        + "Unset: one per " + SHARDS_PER_POD + " input shards, at most " + DEFAULT_MAX_PARALLELISM + ".") Integer parallelism) {

  /** The most packing pods a stage may ask for at once. */
  public static final int MAX_PARALLELISM = 256;
  /** Input shards per prepare pod when the spec sets no parallelism. */
  public static final int SHARDS_PER_POD = 64;
  /** The most pods the default asks for. */
  public static final int DEFAULT_MAX_PARALLELISM = 32;

  public PackingSpec {
    sequenceLength = sequenceLength != null ? sequenceLength : 4096;
    visualTokens = visualTokens != null ? visualTokens : 144;
    planner = planner != null ? planner : PackingPlanner.BIN_COMPLETION;
  }
}
