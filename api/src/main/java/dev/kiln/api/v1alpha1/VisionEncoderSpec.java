package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;

/** SigLIP-style ViT dimensions; features are taken from the penultimate block. */
public record VisionEncoderSpec(
    @Required @Min(1) @Max(4096) @JsonPropertyDescription("Input side in pixels (384 for SigLIP-so400m/14).") Integer imageSize,
    @JsonPropertyDescription("Patch side in pixels (14); imageSize must be a multiple.") @Required @Min(1) @Max(64) Integer patchSize,
    @JsonPropertyDescription("Hidden width (1152).") @Required @Min(1) Integer width,
    @JsonPropertyDescription("Encoder layers (27).") @Required @Min(2) @Max(128) Integer depth,
    @JsonPropertyDescription("Attention heads (16).") @Required @Min(1) Integer heads,
    @JsonPropertyDescription("MLP hidden width (4304).") @Required @Min(1) Integer mlpDim) {

  /** Patches per side: 27 for 384/14. */
  public int gridSize() {
    return imageSize / patchSize;
  }
}
