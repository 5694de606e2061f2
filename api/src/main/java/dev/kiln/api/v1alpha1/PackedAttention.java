package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** How attention and positions treat the samples packed into one sequence. */
public enum PackedAttention {
  /** Causal within a sample, blocked across samples, positions restart per sample. */
  @JsonProperty("PerSample") PER_SAMPLE,
  /** The recipe's code: one causal window over the whole pack, continuous positions. */
  @JsonProperty("Continuous") CONTINUOUS
}
