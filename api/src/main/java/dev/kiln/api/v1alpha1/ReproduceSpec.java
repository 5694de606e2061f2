package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/**
 * What a reproduction expects to find, as an earlier run recorded it ({@code kiln pin} writes
 * this from that run's status): a run whose packed data, tokenizer or initial weights differ
 * stops before training, with a condition and an event naming each difference. Images are pinned by digest in
 * {@code spec.images}.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.packedData) || self.packedData.all(p, self.packedData.exists_one(q, q.stage == p.stage))",
    message = "packedData: one pin per stage")
public record ReproduceSpec(
    @Size(max = 8) @JsonPropertyDescription("sha256 of each stage's packed manifest.json (its packed data, shard by shard).")
    List<PackedDataPin> packedData,

    @Pattern(Bounds.SHA256_PATTERN) @Size(max = 64)
    @JsonPropertyDescription("sha256 of the tokenizer file the data was packed with.")
    String tokenizerSha256,

    @Pattern(Bounds.SHA256_PATTERN) @Size(max = 64)
    @JsonPropertyDescription("sha256 of spec.model.initialWeights: over every file of both folders (languageModel/PATH "
        + "SHA256 per line, then visionEncoder/...), checked by the trainer before the first step.")
    String initialWeightsSha256) {

  public ReproduceSpec {
    packedData = packedData != null ? List.copyOf(packedData) : List.of();
  }

  /** The pinned packed data of one stage. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record PackedDataPin(
      @Required @Size(max = Bounds.LABEL) @JsonPropertyDescription("The stage's name.") String stage,
      @Required @Pattern(Bounds.SHA256_PATTERN) @Size(max = 64)
      @JsonPropertyDescription("sha256 of the stage's packed manifest.json.") String manifestSha256) {}
}
