package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;

/** Qwen2-style decoder dimensions. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record LanguageModelSpec(
    @Required @Min(1) Integer hiddenSize,
    @Required @Min(1) Integer layers,
    @Required @Min(1) Integer heads,
    @Required @Min(1) Integer kvHeads,
    @Required @Min(1) Integer intermediateSize,
    @Required @Min(8) Integer vocabSize,
    @Default("1000000.0") @Min(value = 0, inclusive = false) Double ropeTheta,
    @Default("1.0E-6") @Min(value = 0, inclusive = false) Double rmsNormEps,
    @Default("true") Boolean tieEmbeddings) {

  public LanguageModelSpec {
    ropeTheta = ropeTheta != null ? ropeTheta : 1_000_000.0;
    rmsNormEps = rmsNormEps != null ? rmsNormEps : 1e-6;
    tieEmbeddings = tieEmbeddings != null ? tieEmbeddings : true;
  }
}
