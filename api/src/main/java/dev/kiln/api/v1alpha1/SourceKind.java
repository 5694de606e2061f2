package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** What a source's samples hold. */
public enum SourceKind {
  @JsonProperty("Captions") CAPTIONS,
  @JsonProperty("Instructions") INSTRUCTIONS
}
