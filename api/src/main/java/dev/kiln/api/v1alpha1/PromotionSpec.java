package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;

/** When a finished stage's final checkpoint is promoted so the next stage may start from it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PromotionSpec(
    @Default("Auto") @JsonPropertyDescription("Auto promotes when the gate holds; Manual also waits for approved: true.")
    Mode mode,
    @Default("false") @JsonPropertyDescription("Approval of a Manual promotion (or annotate kiln.dev/approve-promotion=<stage>).")
    Boolean approved,
    @Min(0) @JsonPropertyDescription("Fail promotion when the stage ended before this step.") Long minStep,
    @JsonPropertyDescription("Fail promotion when the final training loss is above this.") Double maxLoss) {

  public PromotionSpec {
    mode = mode != null ? mode : Mode.AUTO;
    approved = approved != null ? approved : false;
  }

  /** Promotion modes. */
  public enum Mode {
    @JsonProperty("Auto") AUTO,
    @JsonProperty("Manual") MANUAL
  }
}
