package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Size;

/** Container images for this job's pods; pin digests here for a reproducible run. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ImagesSpec(
    @JsonPropertyDescription("The trainer's image (the CUDA variant for GPU stages).") @Size(max = Bounds.IMAGE) String trainer,
    @JsonPropertyDescription("The filter and pack jobs' image.") @Size(max = Bounds.IMAGE) String dataJobs) {}
