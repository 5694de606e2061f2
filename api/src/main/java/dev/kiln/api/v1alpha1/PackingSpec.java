package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;

/** Multimodal sequence packing: samples are placed first-fit-decreasing into sequences of this length. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PackingSpec(
    @JsonPropertyDescription("Tokens per packed sequence (4096 in the recipe).") @Default("4096") @Min(16) @Max(131072) Integer sequenceLength,
    @Default("144") @Min(1) @JsonPropertyDescription("Visual tokens per image for stages that set none.") Integer visualTokens,
    @JsonPropertyDescription("tokenizer.json on the data claim (with its tokenizer_config.json beside it, the model's BOS and EOS); the initial weights' tokenizer when unset.") @Size(max = Bounds.PATH) String tokenizer,
    @JsonPropertyDescription("CPU and memory of each pack Job. Unset: 1 CPU and 8Gi.") DataJobResourcesSpec resources) {

  public PackingSpec {
    sequenceLength = sequenceLength != null ? sequenceLength : 4096;
    visualTokens = visualTokens != null ? visualTokens : 144;
  }
}
