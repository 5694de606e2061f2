package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Named model sizes and their dimensions. */
public enum ModelPreset {
  /** Seconds per step on two CPU cores: the quickstart and the tests. */
  @JsonProperty("tiny")
  TINY(new VisionEncoderSpec(32, 4, 32, 3, 2, 64), 64,
      new LanguageModelSpec(64, 2, 4, 2, 128, 512, 10_000.0, 1e-6, true)),

  /** A few minutes per hundred steps on CPU: benchmarks. */
  @JsonProperty("small")
  SMALL(new VisionEncoderSpec(64, 8, 128, 4, 4, 512), 256,
      new LanguageModelSpec(256, 4, 8, 2, 704, 4096, 10_000.0, 1e-6, true)),

  /** The recipe: SigLIP-so400m/14@384 (features of block 25 of 27) + Qwen2.5-1.5B-Instruct. */
  @JsonProperty("open-qwen2vl-2b")
  OPEN_QWEN2VL_2B(new VisionEncoderSpec(384, 14, 1152, 27, 16, 4304), 1536,
      new LanguageModelSpec(1536, 28, 12, 2, 8960, 151_936, 1_000_000.0, 1e-6, true));

  private final VisionEncoderSpec vision;
  private final int projectorHidden;
  private final LanguageModelSpec languageModel;

  ModelPreset(VisionEncoderSpec vision, int projectorHidden, LanguageModelSpec languageModel) {
    this.vision = vision;
    this.projectorHidden = projectorHidden;
    this.languageModel = languageModel;
  }

  public ModelDimensions dimensions() {
    return new ModelDimensions(vision, projectorHidden, languageModel);
  }
}
