package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** The three parts of the model, each frozen or trained per stage. */
public enum TrainablePart {
  @JsonProperty("vision") VISION,
  @JsonProperty("projector") PROJECTOR,
  @JsonProperty("languageModel") LANGUAGE_MODEL
}
