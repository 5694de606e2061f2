package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** Where a job stands in its TrainingQueue: the queue, its place while waiting (1 is next), and why it waits. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record QueueStatus(
    @JsonPropertyDescription("The TrainingQueue.") String name,
    @JsonPropertyDescription("Place among the stages waiting in the queue, 1 is next; absent once admitted.") Integer position,
    @JsonPropertyDescription("Why the stage waits, e.g. waiting for 16 x NVIDIA-A100-SXM4-40GB: 8 free in queue research, 3 free on nodes.") String reason) {}
