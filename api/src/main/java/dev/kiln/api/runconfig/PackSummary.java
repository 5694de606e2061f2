package dev.kiln.api.runconfig;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * What a pack Job writes to its termination message once the stage's packed data is complete:
 * the operator records it, and checks it against the job's pins before any stage starts.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record PackSummary(String manifestSha256, String tokenizerSha256, Long samples, Long sequences, Double fill) {}
