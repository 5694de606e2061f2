package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.LabelSelector;
import java.util.Map;

/** A queue's GPU quota, the order it admits in, and whether a stage may preempt another. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TrainingQueueSpec(
    @Min(0) @JsonPropertyDescription("nvidia.com/gpu the queue's admitted stages may hold together; absent: no limit but the cluster's.")
    Integer gpuQuota,
    @Size(max = 16) @JsonPropertyDescription("Limits per nvidia.com/gpu.product, counted for stages that name that product.")
    Map<String, @Min(0) Integer> gpuQuotaByProduct,
    @Default("BestEffortFIFO") @JsonPropertyDescription("StrictFIFO: nothing passes a waiting stage. BestEffortFIFO: a stage that fits may pass one that does not, but never takes GPUs the first waiting stage could use.")
    Strategy strategy,
    @Default("Never") @JsonPropertyDescription("LowerPriority: a waiting stage may preempt running stages of lower priority in this queue (they resume from a checkpoint written on SIGTERM).")
    Preemption preemption,
    @JsonPropertyDescription("The namespaces whose jobs may use the queue, by their labels (kubernetes.io/metadata.name names one); absent: every namespace. A job from another namespace is refused, as Kueue's ClusterQueue namespaceSelector does.")
    LabelSelector namespaceSelector) {

  /** Every field but the namespace selector: a queue any namespace may use. */
  public TrainingQueueSpec(Integer gpuQuota, Map<String, Integer> gpuQuotaByProduct, Strategy strategy,
      Preemption preemption) {
    this(gpuQuota, gpuQuotaByProduct, strategy, preemption, null);
  }

  public TrainingQueueSpec {
    gpuQuotaByProduct = gpuQuotaByProduct != null ? Map.copyOf(gpuQuotaByProduct) : Map.of();
    strategy = strategy != null ? strategy : Strategy.BEST_EFFORT_FIFO;
    preemption = preemption != null ? preemption : Preemption.NEVER;
  }

  /** The order in which waiting stages are admitted. */
  public enum Strategy {
    @JsonProperty("StrictFIFO") STRICT_FIFO,
    @JsonProperty("BestEffortFIFO") BEST_EFFORT_FIFO
  }

  /** Which running stages a waiting one may stop. */
  public enum Preemption {
    @JsonProperty("Never") NEVER,
    @JsonProperty("LowerPriority") LOWER_PRIORITY
  }
}
