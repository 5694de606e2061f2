package dev.kiln.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/** The job's working volume: checkpoints, prepared data, metrics. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!(has(self.existingClaim) && has(self.volumeClaim))",
    message = "set either existingClaim or volumeClaim, not both")
public record CheckpointSpec(
    @JsonPropertyDescription("Use this PersistentVolumeClaim instead of creating one.") @Size(max = Bounds.NAME) String existingClaim,
    @JsonPropertyDescription("The claim the operator creates when existingClaim is unset.") VolumeClaimSpec volumeClaim,
    @Default("3") @Min(1) @JsonPropertyDescription("Checkpoints kept per stage (promoted ones are always kept).") Integer keepLast,
    @Default("true") @JsonPropertyDescription("Keep the created claim when the job is deleted.") Boolean retainOnDelete) {

  public CheckpointSpec {
    volumeClaim = existingClaim == null && volumeClaim == null ? new VolumeClaimSpec(null, null, null) : volumeClaim;
    keepLast = keepLast != null ? keepLast : 3;
    retainOnDelete = retainOnDelete != null ? retainOnDelete : true;
  }

  /** The claim the operator creates. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record VolumeClaimSpec(
      @JsonPropertyDescription("Storage class; the cluster's default when unset. One with ReadWriteMany lets data prep and multi-node stages spread over nodes.") @Size(max = Bounds.NAME) String storageClassName,
      @JsonPropertyDescription("Capacity: packed data, filtered shards and every kept checkpoint.") @Default("100Gi") @Size(max = Bounds.QUANTITY) @Pattern(Bounds.QUANTITY_PATTERN) String size,
      @JsonPropertyDescription("Access modes. ReadWriteOnce keeps data prep on one node; ReadWriteMany lets its pods and multi-node stages spread.") @Default("[\"ReadWriteOnce\"]") @Size(max = 4) List<@Size(max = Bounds.ACCESS_MODE) String> accessModes) {

    public VolumeClaimSpec {
      size = size != null ? size : "100Gi";
      accessModes = accessModes != null ? List.copyOf(accessModes) : List.of("ReadWriteOnce");
    }
  }
}
