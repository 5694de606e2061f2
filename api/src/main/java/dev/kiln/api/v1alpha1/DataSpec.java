package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/** Raw data: a claim holding WebDataset shards, the sources in it, and how they are packed. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "self.sources.all(s, self.sources.exists_one(t, t.name == s.name))",
    message = "sources: source names must be unique")
public record DataSpec(
    @Required @JsonPropertyDescription("PersistentVolumeClaim holding the raw shards (mounted read-only at /kiln/data).")
    @Size(max = Bounds.NAME) String claimName,

    @Required @Size(min = 1, max = 32)
    @JsonPropertyDescription("Shard sets, each with its filter.") List<DataSourceSpec> sources,

    @JsonPropertyDescription("How samples are packed into training sequences.") PackingSpec packing,

    @JsonPropertyDescription("What the cluster asks of the data-prep pods (filter and pack): node selector, tolerations, "
        + "priority class, service account, runtime class, extra resources, labels, annotations, environment.")
    PodSettingsSpec pod) {

  public DataSpec {
    packing = packing != null ? packing : new PackingSpec(null, null, null, null, null, null);
    sources = sources != null ? List.copyOf(sources) : null;
  }

  /** The source with this name, or null. */
  public DataSourceSpec source(String name) {
    if (sources == null) {
      return null;
    }
    return sources.stream().filter(s -> name.equals(s.name())).findFirst().orElse(null);
  }
}
