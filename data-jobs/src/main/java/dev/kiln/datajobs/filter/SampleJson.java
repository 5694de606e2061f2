package dev.kiln.datajobs.filter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.data.webdataset.Sample;
import java.io.IOException;

/** A sample's {@code json} member, parsed; filters read scores and uids from it. */
final class SampleJson {

  static final String MISSING_JSON = "missing_json";
  static final String MALFORMED_JSON = "malformed_json";
  private static final ObjectMapper JSON = new ObjectMapper();

  private SampleJson() {}

  /** The parsed json, or a BAD verdict's reason in {@code error}. */
  record Parsed(JsonNode json, String error) {}

  static Parsed of(Sample sample) {
    byte[] bytes = sample.members().get("json");
    if (bytes == null) {
      return new Parsed(null, MISSING_JSON);
    }
    try {
      JsonNode node = JSON.readTree(bytes);
      return node != null && node.isObject() ? new Parsed(node, null) : new Parsed(null, MALFORMED_JSON);
    } catch (IOException e) {
      return new Parsed(null, MALFORMED_JSON);
    }
  }

  /** A field by dotted path ({@code scores.clip}); missing node when absent. */
  static JsonNode field(JsonNode json, String dotted) {
    JsonNode node = json;
    for (String part : dotted.split("\\.")) {
      node = node.path(part);
    }
    return node;
  }
}
