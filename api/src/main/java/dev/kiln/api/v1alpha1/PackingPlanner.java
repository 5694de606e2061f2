package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** How samples are planned into sequences. */
public enum PackingPlanner {
  /** Each sequence completed before the next is opened, its last one or two samples chosen to fill it (about 0.999). */
  @JsonProperty("BinCompletion") BIN_COMPLETION,
  /** The recipe's first-fit-decreasing (about 0.98 on its captions). */
  @JsonProperty("FirstFitDecreasing") FIRST_FIT_DECREASING
}
