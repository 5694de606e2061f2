package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** The number format a stage trains in. */
public enum Precision {
  /** Everything in float32. */
  @JsonProperty("Float32") FLOAT32,
  /**
   * Matrix products in float16, norms, softmax and loss in float32, float32 master weights and
   * dynamic loss scaling (PyTorch's autocast with GradScaler). bfloat16 is not offered: the
   * trainer's DJL cannot hold it.
   */
  @JsonProperty("Float16Mixed") FLOAT16_MIXED
}
