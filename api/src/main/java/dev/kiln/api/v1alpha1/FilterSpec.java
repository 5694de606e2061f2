package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/**
 * Filters applied to one source. With {@code combine: AnyOf} a sample is kept when any filter
 * keeps it: the recipe's DataComp set is {@code uidList} (DFN) AnyOf {@code mlmFilter} (SU >= 85).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "has(self.clipScore) || has(self.precomputedScore) || has(self.uidList) || has(self.mlmFilter)",
    message = "set at least one of clipScore, precomputedScore, uidList, mlmFilter")
public record FilterSpec(
    @Default("AllOf") @JsonPropertyDescription("AllOf keeps samples every filter keeps; AnyOf keeps the union.")
    FilterCombine combine,
    @JsonPropertyDescription("Keep samples whose image-text cosine similarity, by a CLIP model, is at least min.") ClipScoreFilter clipScore,
    @JsonPropertyDescription("Keep samples whose json carries a score of at least min (e.g. DataComp's clip_b32_similarity_score).") PrecomputedScoreFilter precomputedScore,
    @JsonPropertyDescription("Keep samples whose uid is in a list (e.g. DFN's released .npy of kept uids).") UidListFilter uidList,
    @JsonPropertyDescription("Keep samples an MLM-Filter model of our architecture scores at least min on one of its four metrics.") MlmFilter mlmFilter) {

  public FilterSpec {
    combine = combine != null ? combine : FilterCombine.ALL_OF;
  }

  /** Filters that are set, for counting and reporting. */
  public int count() {
    int n = 0;
    for (Object f : new Object[] {clipScore, precomputedScore, uidList, mlmFilter}) {
      if (f != null) {
        n++;
      }
    }
    return n;
  }

  /** How several filters on one source combine. */
  public enum FilterCombine {
    @JsonProperty("AllOf") ALL_OF,
    @JsonProperty("AnyOf") ANY_OF
  }

  /** Keep samples whose image-text cosine similarity under a CLIP-style dual encoder is at least {@code min}. */
  public record ClipScoreFilter(
      @Required
      @JsonPropertyDescription("Folder (on the data claim) with the dual encoder's safetensors and tokenizer.")
      @Size(max = Bounds.PATH) String model,
      @Required @Min(-1) @Max(1)
      @JsonPropertyDescription("Minimum cosine similarity to keep, -1 to 1 (0.3 in the recipe).") Double min,
      @JsonPropertyDescription("Samples scored per forward pass.") @Default("256") @Min(1) Integer batchSize) {

    public ClipScoreFilter {
      batchSize = batchSize != null ? batchSize : 256;
    }
  }

  /** Keep samples whose json carries {@code field} >= {@code min} (DataComp's clip score, say). */
  public record PrecomputedScoreFilter(
      @Required @JsonPropertyDescription("Field of the sample's json; dots descend.") @Size(max = Bounds.NAME) String field,
      @JsonPropertyDescription("Minimum score to keep.") @Required Double min) {}

  /** Keep samples whose uid is in an allow-list: DFN's released .npy of uint64 pairs, or a text file. */
  public record UidListFilter(
      @Required @JsonPropertyDescription("Path on the data claim (.npy or one uid a line).")
      @Size(max = Bounds.PATH) String path) {}

  /** Keep samples a vision-language model scores at least {@code min} (0-100) with the MLM-Filter prompt. */
  public record MlmFilter(
      @Required @JsonPropertyDescription("Folder with the scoring model (Kiln's architecture).")
      @Size(max = Bounds.PATH) String model,
      @JsonPropertyDescription("Which of the four MLM-Filter questions scores a sample (the recipe: SemanticUnderstanding).") @Default("SemanticUnderstanding") MlmMetric metric,
      @JsonPropertyDescription("Minimum score to keep, 0 to 100 (85 in the recipe).") @Default("85") @Min(0) @Max(100) Integer min,
      @JsonPropertyDescription("Samples the scoring model answers side by side, as the rows of one batch (on a GPU, "
          + "more fill it better; on the CPU, memory grows with it).") @Default("8") @Min(1) @Max(256) Integer batchSize) {

    public MlmFilter {
      metric = metric != null ? metric : MlmMetric.SEMANTIC_UNDERSTANDING;
      min = min != null ? min : 85;
      batchSize = batchSize != null ? batchSize : 8;
    }
  }

  /** The four MLM-Filter quality metrics. */
  public enum MlmMetric {
    @JsonProperty("SemanticUnderstanding") SEMANTIC_UNDERSTANDING,
    @JsonProperty("ImageTextMatching") IMAGE_TEXT_MATCHING,
    @JsonProperty("ObjectDetailFulfillment") OBJECT_DETAIL_FULFILLMENT,
    @JsonProperty("CaptionTextQuality") CAPTION_TEXT_QUALITY
  }
}
