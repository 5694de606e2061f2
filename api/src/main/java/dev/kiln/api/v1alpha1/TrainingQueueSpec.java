package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.LabelSelector;
import java.util.Map;

/** A queue's GPU quota, the order it admits in, whether a stage may preempt another, and the cohort it shares GPUs with. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.cohort) || has(self.gpuQuota)", fieldPath = ".gpuQuota",
    message = "a queue in a cohort needs gpuQuota: its nominal share of the cohort's GPUs")
@ValidationRule(value = "has(self.cohort) || (!has(self.borrowingLimit) && !has(self.lendingLimit))", fieldPath = ".cohort",
    message = "borrowingLimit and lendingLimit are for a queue in a cohort")
@ValidationRule(value = "!has(self.lendingLimit) || !has(self.gpuQuota) || self.lendingLimit <= self.gpuQuota",
    fieldPath = ".lendingLimit", message = "lendingLimit cannot be more than gpuQuota")
@ValidationRule(value = "has(self.cohort) || !has(self.resourceQuotas) || self.resourceQuotas.all(r,"
    + " !has(self.resourceQuotas[r].borrowingLimit) && !has(self.resourceQuotas[r].lendingLimit))",
    fieldPath = ".resourceQuotas", message = "borrowingLimit and lendingLimit are for a queue in a cohort")
@ValidationRule(value = "!has(self.resourceQuotas) || self.resourceQuotas.all(r, !has(self.resourceQuotas[r].lendingLimit)"
    + " || quantity(self.resourceQuotas[r].lendingLimit).compareTo(quantity(self.resourceQuotas[r].nominal)) <= 0)",
    fieldPath = ".resourceQuotas", message = "a resource's lendingLimit cannot be more than its nominal quota")
@ValidationRule(value = "!has(self.resourceQuotas) || self.resourceQuotas.all(r, r == 'cpu' || r == 'memory')",
    fieldPath = ".resourceQuotas", message = "quotas besides gpuQuota are of cpu and memory")
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
    LabelSelector namespaceSelector,
    @Size(max = Bounds.LABEL) @Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$") @JsonPropertyDescription("Queues naming the same cohort share GPUs: each one's gpuQuota is its nominal share, and GPUs a queue leaves unused may be borrowed by the others (as Kueue's ClusterQueue cohort). Needs gpuQuota.")
    String cohort,
    @Min(0) @JsonPropertyDescription("GPUs beyond gpuQuota the queue may borrow from its cohort; absent: as many as the cohort lends.")
    Integer borrowingLimit,
    @Min(0) @JsonPropertyDescription("GPUs of the queue's unused gpuQuota its cohort may borrow; absent: all of it. The rest is kept for the queue alone.")
    Integer lendingLimit,
    @Default("Never") @JsonPropertyDescription("Whether a waiting stage that fits the queue's gpuQuota may stop stages other queues of the cohort run on borrowed GPUs: Never, LowerPriority (only those of lower priority) or Any (Kueue's reclaimWithinCohort). They resume from a checkpoint written on SIGTERM.")
    Reclaim reclaimWithinCohort,
    @Size(max = 2) @JsonPropertyDescription("Quotas of cpu and memory besides GPUs, by resource name: a stage is admitted only when its pods' requests of each fit, counted in the cohort as GPUs are (Kueue's ClusterQueue resources). A resource not named is not limited, and the queue takes no part in its cohort's sharing of it.")
    Map<String, ResourceQuota> resourceQuotas) {

  /** A queue with GPU quotas only. */
  public TrainingQueueSpec(Integer gpuQuota, Map<String, Integer> gpuQuotaByProduct, Strategy strategy,
      Preemption preemption, LabelSelector namespaceSelector, String cohort, Integer borrowingLimit,
      Integer lendingLimit, Reclaim reclaimWithinCohort) {
    this(gpuQuota, gpuQuotaByProduct, strategy, preemption, namespaceSelector, cohort, borrowingLimit, lendingLimit,
        reclaimWithinCohort, null);
  }

  /** Every field but the namespace selector and cohort: a queue any namespace may use, sharing with no other. */
  public TrainingQueueSpec(Integer gpuQuota, Map<String, Integer> gpuQuotaByProduct, Strategy strategy,
      Preemption preemption) {
    this(gpuQuota, gpuQuotaByProduct, strategy, preemption, null);
  }

  /** A queue that shares with no other. */
  public TrainingQueueSpec(Integer gpuQuota, Map<String, Integer> gpuQuotaByProduct, Strategy strategy,
      Preemption preemption, LabelSelector namespaceSelector) {
    this(gpuQuota, gpuQuotaByProduct, strategy, preemption, namespaceSelector, null, null, null, null);
  }

  public TrainingQueueSpec {
    gpuQuotaByProduct = gpuQuotaByProduct != null ? Map.copyOf(gpuQuotaByProduct) : Map.of();
    strategy = strategy != null ? strategy : Strategy.BEST_EFFORT_FIFO;
    preemption = preemption != null ? preemption : Preemption.NEVER;
    reclaimWithinCohort = reclaimWithinCohort != null ? reclaimWithinCohort : Reclaim.NEVER;
    resourceQuotas = resourceQuotas != null ? Map.copyOf(resourceQuotas) : Map.of();
  }

  /** Which stages of other queues in the cohort a waiting stage may stop to take back GPUs lent from its quota. */
  public enum Reclaim {
    @JsonProperty("Never") NEVER,
    @JsonProperty("LowerPriority") LOWER_PRIORITY,
    @JsonProperty("Any") ANY
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
