package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;

/** AdamW with linear warmup and a decay schedule; no weight decay on norms and biases. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record OptimizerSpec(
    @Required @Min(value = 0, inclusive = false) @Max(1) Double lr,
    @Default("0.0") @Min(0) @Max(1) Double weightDecay,
    @Default("0.03") @Min(0) @Max(value = 1, inclusive = false) Double warmupRatio,
    @Default("Cosine") Schedule schedule,
    @Default("0.0") @Min(0) @Max(1) Double minLrRatio,
    @Default("1.0") @Min(0) Double gradClip,
    @Default("0.9") @Min(0) @Max(value = 1, inclusive = false) Double beta1,
    @Default("0.999") @Min(0) @Max(value = 1, inclusive = false) Double beta2,
    @Default("1.0E-8") @Min(value = 0, inclusive = false) Double eps) {

  public OptimizerSpec {
    weightDecay = weightDecay != null ? weightDecay : 0.0;
    warmupRatio = warmupRatio != null ? warmupRatio : 0.03;
    schedule = schedule != null ? schedule : Schedule.COSINE;
    minLrRatio = minLrRatio != null ? minLrRatio : 0.0;
    gradClip = gradClip != null ? gradClip : 1.0;
    beta1 = beta1 != null ? beta1 : 0.9;
    beta2 = beta2 != null ? beta2 : 0.999;
    eps = eps != null ? eps : 1e-8;
  }

  /** Learning-rate decay after warmup. */
  public enum Schedule {
    @JsonProperty("Cosine") COSINE,
    @JsonProperty("Linear") LINEAR,
    @JsonProperty("Constant") CONSTANT
  }
}
