package dev.kiln.api.runconfig;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * What a filter task or a packing prepare task writes to its termination message: the samples it
 * read, kept and found bad. The operator sums the finished tasks' into the job's data-prep progress.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record DataTaskSummary(Long samplesRead, Long samplesKept, Long samplesBad) {}
