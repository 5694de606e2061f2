package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;

/**
 * A queue's quota of one resource besides GPUs (cpu or memory, Kubernetes quantities), as one
 * resource of a Kueue ClusterQueue: its nominal amount and, in a cohort, how much more it may
 * borrow and how much of its nominal amount it lends.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ResourceQuota(
    @Required @Size(max = Bounds.QUANTITY) @Pattern(Bounds.QUANTITY_PATTERN) @JsonPropertyDescription("What the queue's admitted stages may request together (its nominal share of the cohort's).")
    String nominal,
    @Size(max = Bounds.QUANTITY) @Pattern(Bounds.QUANTITY_PATTERN) @JsonPropertyDescription("How much beyond nominal the queue may borrow from its cohort; absent: as much as the cohort lends.")
    String borrowingLimit,
    @Size(max = Bounds.QUANTITY) @Pattern(Bounds.QUANTITY_PATTERN) @JsonPropertyDescription("How much of its unused nominal amount its cohort may borrow (at most nominal); absent: all of it.")
    String lendingLimit) {}
