package dev.kiln.datajobs.filter;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.data.webdataset.Sample;

/** Keeps samples whose json carries a number at {@code field} of at least {@code min} (DataComp's clip_score, say). */
public record PrecomputedScoreFilter(String field, double min) implements SampleFilter {

  static final String MISSING_SCORE = "missing_score";

  @Override
  public String name() {
    return "precomputed:field=" + field + ",min=" + min;
  }

  @Override
  public Verdict judge(Sample sample) {
    SampleJson.Parsed parsed = SampleJson.of(sample);
    if (parsed.error() != null) {
      return Verdict.bad(parsed.error());
    }
    JsonNode value = SampleJson.field(parsed.json(), field);
    if (!value.isNumber()) {
      return Verdict.bad(MISSING_SCORE);
    }
    double score = value.asDouble();
    return score >= min ? Verdict.keep(score) : Verdict.drop(score);
  }
}
