package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;

/** HF-layout weights on a PersistentVolumeClaim; paths are relative to the claim's root. */
public record InitialWeightsSpec(
    @Required @JsonPropertyDescription("Claim holding the weights (mounted read-only).") @Size(max = Bounds.NAME) String claimName,
    @JsonPropertyDescription("Folder with the Qwen2 safetensors and config.json.") @Size(max = Bounds.PATH) String languageModel,
    @JsonPropertyDescription("Folder with the SigLIP safetensors.") @Size(max = Bounds.PATH) String visionEncoder,
    @JsonPropertyDescription("tokenizer.json to use for packing and training.") @Size(max = Bounds.PATH) String tokenizer) {}
