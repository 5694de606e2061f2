package dev.kiln.api.v1alpha1;

/** The model's resolved dimensions, whether from a preset or given explicitly. */
public record ModelDimensions(VisionEncoderSpec vision, int projectorHidden, LanguageModelSpec languageModel) {}
