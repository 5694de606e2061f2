package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.ValidationRule;

/** How long a stage trains: exactly one of tokens, steps or epochs. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "[has(self.tokens), has(self.steps), has(self.epochs)].filter(x, x).size() == 1",
    message = "set exactly one of tokens, steps, epochs")
public record BudgetSpec(
    @JsonPropertyDescription("Train until this many tokens (text and visual positions) have been seen.") @Min(1) Long tokens,
    @JsonPropertyDescription("Train for this many optimizer steps.") @Min(1) Long steps,
    @JsonPropertyDescription("Train for this many passes over the stage's packed data.") @Min(1) Integer epochs) {}
