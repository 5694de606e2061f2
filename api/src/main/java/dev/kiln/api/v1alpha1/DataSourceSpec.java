package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;

/** One WebDataset shard set and the filter applied to it before packing. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DataSourceSpec(
    @Required @Pattern("^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$")
    @JsonPropertyDescription("DNS label, at most 20 characters; names the filter Job.")
    @Size(max = Bounds.SHORT_NAME) String name,

    @Required
    @JsonPropertyDescription("Shard paths relative to the data claim; brace ranges allowed: ccs/{00000..01302}.tar")
    @Size(max = Bounds.PATH) String shards,

    @Default("Captions") @JsonPropertyDescription("Captions (image-text pairs, pre-training) or Instructions (SFT conversations).")
    SourceKind kind,

    @JsonPropertyDescription("What to keep of the shards before packing; none keeps every sample.") FilterSpec filter,

    @Default("16") @Min(1) @Max(100000) @JsonPropertyDescription("Shards per filter task (one completion index each).")
    Integer shardsPerTask,

    @JsonPropertyDescription("CPU and memory of each filter task. Unset: 8 CPUs and 24Gi with an mlmFilter (a 1.5B-parameter scorer), 4 CPUs and 8Gi with a clipScore, else 1 CPU and 4Gi.")
    DataJobResourcesSpec resources) {

  public DataSourceSpec {
    kind = kind != null ? kind : SourceKind.CAPTIONS;
    shardsPerTask = shardsPerTask != null ? shardsPerTask : 16;
  }
}
