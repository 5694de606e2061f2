package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.ValidationRule;

/** The model: a named preset, or the vision encoder and language model given explicitly. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "has(self.preset) ? !has(self.vision) && !has(self.languageModel)"
    + " : has(self.vision) && has(self.languageModel)",
    message = "set either preset, or both vision and languageModel")
@ValidationRule(value = "self == oldSelf", message = "model is immutable")
public record ModelSpec(
    @JsonPropertyDescription("tiny (CPU, tests), small (benchmarks) or open-qwen2vl-2b (SigLIP-so400m/14@384 + Qwen2.5-1.5B).")
    ModelPreset preset,
    @JsonPropertyDescription("The SigLIP-style encoder, when no preset is given.") VisionEncoderSpec vision,
    @JsonPropertyDescription("The average-pool projector from the encoder to the language model.") ProjectorSpec projector,
    @JsonPropertyDescription("The Qwen2-style decoder, when no preset is given.") LanguageModelSpec languageModel,
    @JsonPropertyDescription("HF-layout safetensors and tokenizer to start from, on a volume.")
    InitialWeightsSpec initialWeights) {

  /** Dimensions from the preset or the explicit fields; null when neither is complete. */
  public ModelDimensions resolve() {
    if (preset != null) {
      return preset.dimensions();
    }
    if (vision == null || languageModel == null) {
      return null;
    }
    int projectorHidden = projector != null && projector.hiddenSize() != null
        ? projector.hiddenSize() : languageModel.hiddenSize();
    return new ModelDimensions(vision, projectorHidden, languageModel);
  }
}
