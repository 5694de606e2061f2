package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;

/** Container images for this job's pods; pin digests here for a reproducible run. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ImagesSpec(String trainer, String dataJobs) {}
