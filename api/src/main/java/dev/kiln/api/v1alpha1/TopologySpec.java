package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** Which nodes a stage's pods share: all on nodes with one value of a node label (a rack, an NVLink or InfiniBand domain). */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "has(self.required) != has(self.preferred)", message = "set either required or preferred")
public record TopologySpec(
    @Size(max = Bounds.NAME) @Pattern(Bounds.LABEL_KEY_PATTERN) @JsonPropertyDescription("A node label (e.g. a rack or InfiniBand block label): the stage starts only when all its pods fit on nodes with one value of it; nodes without it are not used (Kueue's podset-required-topology).")
    String required,
    @Size(max = Bounds.NAME) @Pattern(Bounds.LABEL_KEY_PATTERN) @JsonPropertyDescription("A node label: the pods go on nodes with one value of it when some value has room for them all, else on as few values as hold them (Kueue's podset-preferred-topology).")
    String preferred) {

  /** The label the pods' nodes share. */
  public String key() {
    return required != null ? required : preferred;
  }
}
