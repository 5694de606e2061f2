package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;

/** SigLIP-style ViT dimensions; features are taken from the penultimate block. */
public record VisionEncoderSpec(
    @Required @Min(1) @Max(4096) @JsonPropertyDescription("Input side in pixels (384 for SigLIP-so400m/14).") Integer imageSize,
    @Required @Min(1) @Max(64) Integer patchSize,
    @Required @Min(1) Integer width,
    @Required @Min(2) @Max(128) Integer depth,
    @Required @Min(1) Integer heads,
    @Required @Min(1) Integer mlpDim) {

  /** Patches per side: 27 for 384/14. */
  public int gridSize() {
    return imageSize / patchSize;
  }
}
