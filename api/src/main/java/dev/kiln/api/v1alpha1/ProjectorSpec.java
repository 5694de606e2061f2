package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;

/** Average-pool projector: adaptive pooling to the stage's visual tokens, then a 2-layer GELU MLP. */
public record ProjectorSpec(
    @Min(1) @JsonPropertyDescription("MLP hidden width; the language model's hidden size when unset.") Integer hiddenSize) {}
