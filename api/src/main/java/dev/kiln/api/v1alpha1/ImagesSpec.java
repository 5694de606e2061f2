package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Size;

/** Container images for this job's pods; pin digests here for a reproducible run. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ImagesSpec(@Size(max = Bounds.IMAGE) String trainer, @Size(max = Bounds.IMAGE) String dataJobs) {}
