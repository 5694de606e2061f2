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
    @JsonPropertyDescription("CPU and memory of each pack Job. Unset: 1 CPU and 8Gi.") DataJobResourcesSpec resources,
    @Default("BinCompletion") @JsonPropertyDescription("How samples are planned into sequences: BinCompletion completes each "
        + "sequence with the one or two samples that fill it best (about 0.999 of 4096 tokens on the recipe's captions); "
        + "FirstFitDecreasing is the recipe's own plan (about 0.98).") PackingPlanner planner) {

  public PackingSpec {
    sequenceLength = sequenceLength != null ? sequenceLength : 4096;
    visualTokens = visualTokens != null ? visualTokens : 144;
    planner = planner != null ? planner : PackingPlanner.BIN_COMPLETION;
  }
}
