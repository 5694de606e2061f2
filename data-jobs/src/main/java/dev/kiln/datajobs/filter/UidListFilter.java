package dev.kiln.datajobs.filter;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.data.webdataset.Sample;

/** Keeps samples whose json {@code uid} is in an allow-list (DFN's released uids, say). */
public record UidListFilter(String path, UidSet uids) implements SampleFilter {

  static final String MISSING_UID = "missing_uid";

  @Override
  public String name() {
    return "uids:" + path;
  }

  @Override
  public Verdict judge(Sample sample) {
    SampleJson.Parsed parsed = SampleJson.of(sample);
    if (parsed.error() != null) {
      return Verdict.bad(parsed.error());
    }
    JsonNode uid = parsed.json().path("uid");
    if (!uid.isTextual()) {
      return Verdict.bad(MISSING_UID);
    }
    return uids.contains(uid.asText()) ? Verdict.keep(null) : Verdict.drop(null);
  }
}
