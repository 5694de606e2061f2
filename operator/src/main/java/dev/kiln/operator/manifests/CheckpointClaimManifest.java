package dev.kiln.operator.manifests;

import dev.kiln.api.v1alpha1.CheckpointSpec;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.Map;

/** The job's working volume; owned by the job (deleted with it) unless retainOnDelete. */
public final class CheckpointClaimManifest {

  private CheckpointClaimManifest() {}

  /** The claim to create, or null when the job uses an existing one. */
  public static PersistentVolumeClaim build(MultimodalPretrainJob job) {
    CheckpointSpec checkpoints = job.getSpec().checkpoints();
    if (checkpoints.existingClaim() != null) {
      return null;
    }
    CheckpointSpec.VolumeClaimSpec claim = checkpoints.volumeClaim();
    Map<String, String> labels = Labels.of(job, Labels.WORKSPACE);
    ObjectMeta metadata = checkpoints.retainOnDelete()
        ? new ObjectMetaBuilder().withName(Names.checkpointClaim(job)).withNamespace(job.getMetadata().getNamespace())
            .withLabels(labels).build()
        : Owners.owned(job, Names.checkpointClaim(job), labels);
    return new PersistentVolumeClaimBuilder()
        .withMetadata(metadata)
        .withNewSpec()
          .withAccessModes(claim.accessModes())
          .withStorageClassName(claim.storageClassName())
          .withNewResources().addToRequests("storage", new Quantity(claim.size())).endResources()
        .endSpec()
        .build();
  }
}
