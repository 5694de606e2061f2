package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;

/** Qwen2-style decoder dimensions. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record LanguageModelSpec(
    @JsonPropertyDescription("Width of the residual stream (1536 for Qwen2.5-1.5B).") @Required @Min(1) Integer hiddenSize,
    @JsonPropertyDescription("Decoder layers (28).") @Required @Min(1) Integer layers,
    @JsonPropertyDescription("Query heads (12).") @Required @Min(1) Integer heads,
    @JsonPropertyDescription("Key and value heads, grouped-query attention (2).") @Required @Min(1) Integer kvHeads,
    @JsonPropertyDescription("MLP hidden width (8960).") @Required @Min(1) Integer intermediateSize,
    @JsonPropertyDescription("Embedding rows: the tokenizer's vocabulary and added tokens (151936).") @Required @Min(8) Integer vocabSize,
    @JsonPropertyDescription("Rotary position embedding base.") @Default("1000000.0") @Min(value = 0, inclusive = false) Double ropeTheta,
    @JsonPropertyDescription("RMSNorm's epsilon.") @Default("1.0E-6") @Min(value = 0, inclusive = false) Double rmsNormEps,
    @JsonPropertyDescription("The output projection shares the input embedding matrix.") @Default("true") Boolean tieEmbeddings) {

  public LanguageModelSpec {
    ropeTheta = ropeTheta != null ? ropeTheta : 1_000_000.0;
    rmsNormEps = rmsNormEps != null ? rmsNormEps : 1e-6;
    tieEmbeddings = tieEmbeddings != null ? tieEmbeddings : true;
  }
}
