package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/**
 * What to train, on which data, in which stages. Defaults are filled in by the compact
 * constructors too, so a spec read without the API server's defaulting looks the same.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "self.stages.all(s, self.stages.exists_one(t, t.name == s.name))",
    message = "stages: stage names must be unique")
@ValidationRule(value = "!has(self.reproduce) || !has(self.reproduce.packedData) || "
    + "self.reproduce.packedData.all(p, self.stages.exists(s, s.name == p.stage))",
    message = "reproduce.packedData: each stage must name a stage of spec.stages")
@ValidationRule(value = "!has(self.reproduce) || !has(self.reproduce.initialWeightsSha256) || has(self.model.initialWeights)",
    message = "reproduce.initialWeightsSha256: pins spec.model.initialWeights, which this job does not set")
@ValidationRule(
    value = "self.stages.all(s, !has(s.initFrom) || (self.stages.map(t, t.name).indexOf(s.initFrom) >= 0 && "
        + "self.stages.map(t, t.name).indexOf(s.initFrom) < self.stages.map(t, t.name).indexOf(s.name)))",
    message = "stages: initFrom must name an earlier stage")
public record MultimodalPretrainJobSpec(
    @Required @JsonPropertyDescription("The vision-language model: a preset or explicit dimensions, plus optional initial weights. "
        + "Immutable once the job is created (the API server refuses a change): create a new job for another model.")
    ModelSpec model,

    @Required @JsonPropertyDescription("Raw WebDataset sources, their filters, and packing.")
    DataSpec data,

    @Required @Size(min = 1, max = Bounds.STAGES)
    @JsonPropertyDescription("Training stages, run in order (the recipe: pretrain at 144 visual tokens, then sft at 729). "
        + "Once a stage has started, only optimizer.lr, optimizer.warmupRatio, precision, resources.cpu, resources.memory, "
        + "pod, maxRestarts, nonRetryableExitCodes, batch.microBatchSize (the same globalBatchSize), "
        + "checkpointIntervalSteps, collectives and promotion may change; they take effect at its next attempt (a "
        + "failure, or a changed restartNonce).")
    List<StageSpec> stages,

    @JsonPropertyDescription("Where checkpoints and prepared data live.")
    CheckpointSpec checkpoints,

    @JsonPropertyDescription("Queueing and admission.")
    SchedulingSpec scheduling,

    @JsonPropertyDescription("Container images; the operator's defaults when unset.")
    ImagesSpec images,

    @Default("false") @JsonPropertyDescription("Delete running pods (keeping checkpoints) until set back to false.")
    Boolean suspend,

    @JsonPropertyDescription("Change to force a new attempt of the current stage (also retries a failed job).")
    @Size(max = Bounds.NAME) String restartNonce,

    @Min(0) @JsonPropertyDescription("Delete the job this many seconds after it finished.")
    Integer ttlSecondsAfterFinished,

    @Default("7") @JsonPropertyDescription("Seed for the weights' initialisation and the data order (packing and batches); recorded in every checkpoint.")
    Long seed,

    @JsonPropertyDescription("What a reproduction expects to find (kiln pin writes it from a finished run): a run whose "
        + "packed data, tokenizer or initial weights differ fails before training, naming each difference.")
    ReproduceSpec reproduce) {

  public MultimodalPretrainJobSpec {
    checkpoints = checkpoints != null ? checkpoints : new CheckpointSpec(null, null, null, null);
    scheduling = scheduling != null ? scheduling : new SchedulingSpec(null, null, null, null, null, null, null, null);
    suspend = suspend != null ? suspend : false;
    seed = seed != null ? seed : 7L;
    stages = stages != null ? List.copyOf(stages) : null;
  }

  /** The stage with this name, or null. */
  public StageSpec stage(String name) {
    if (stages == null) {
      return null;
    }
    return stages.stream().filter(s -> name.equals(s.name())).findFirst().orElse(null);
  }
}
