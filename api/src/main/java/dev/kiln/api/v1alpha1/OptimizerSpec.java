package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;

/** AdamW with linear warmup and a decay schedule; no weight decay on norms and biases. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record OptimizerSpec(
    @JsonPropertyDescription("Peak learning rate of AdamW.") @Required @Min(value = 0, inclusive = false) @Max(1) Double lr,
    @JsonPropertyDescription("AdamW's decoupled weight decay.") @Default("0.0") @Min(0) @Max(1) Double weightDecay,
    @JsonPropertyDescription("Share of the steps spent warming the learning rate up linearly from 0.") @Default("0.03") @Min(0) @Max(value = 1, inclusive = false) Double warmupRatio,
    @JsonPropertyDescription("Decay after warmup: Cosine to minLrRatio x lr, or Constant.") @Default("Cosine") Schedule schedule,
    @JsonPropertyDescription("Where Cosine ends, as a share of lr.") @Default("0.0") @Min(0) @Max(1) Double minLrRatio,
    @JsonPropertyDescription("Clip the gradients' global norm to this; 0 turns clipping off.") @Default("1.0") @Min(0) Double gradClip,
    @JsonPropertyDescription("AdamW's first-moment decay.") @Default("0.9") @Min(0) @Max(value = 1, inclusive = false) Double beta1,
    @JsonPropertyDescription("AdamW's second-moment decay.") @Default("0.999") @Min(0) @Max(value = 1, inclusive = false) Double beta2,
    @JsonPropertyDescription("AdamW's epsilon.") @Default("1.0E-8") @Min(value = 0, inclusive = false) Double eps) {

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
