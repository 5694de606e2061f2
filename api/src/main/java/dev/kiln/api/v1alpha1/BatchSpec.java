package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;

/** Batch sizes in packed sequences; gradient accumulation makes up the difference. */
public record BatchSpec(
    @Default("128") @Min(1) @JsonPropertyDescription("Packed sequences per optimizer step, over all ranks.") Integer globalBatchSize,
    @Default("1") @Min(1) @JsonPropertyDescription("Packed sequences per rank per forward pass.") Integer microBatchSize) {

  public BatchSpec {
    globalBatchSize = globalBatchSize != null ? globalBatchSize : 128;
    microBatchSize = microBatchSize != null ? microBatchSize : 1;
  }
}
