package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;

/** HF-layout weights on a PersistentVolumeClaim; paths are relative to the claim's root. */
public record InitialWeightsSpec(
    @Required @JsonPropertyDescription("Claim holding the weights (mounted read-only).") String claimName,
    @JsonPropertyDescription("Folder with the Qwen2 safetensors and config.json.") String languageModel,
    @JsonPropertyDescription("Folder with the SigLIP safetensors.") String visionEncoder,
    @JsonPropertyDescription("tokenizer.json to use for packing and training.") String tokenizer) {}
