package dev.kiln.operator.manifests;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import java.util.Map;

/** Child metadata owned by the job, so deleting the job deletes its children. */
final class Owners {

  private Owners() {}

  static OwnerReference reference(MultimodalPretrainJob job) {
    return new OwnerReferenceBuilder()
        .withApiVersion(MultimodalPretrainJob.API_VERSION)
        .withKind(MultimodalPretrainJob.KIND)
        .withName(job.getMetadata().getName())
        .withUid(job.getMetadata().getUid())
        .withController(true)
        .withBlockOwnerDeletion(true)
        .build();
  }

  static ObjectMeta owned(MultimodalPretrainJob job, String name, Map<String, String> labels) {
    return new ObjectMetaBuilder()
        .withName(name)
        .withNamespace(job.getMetadata().getNamespace())
        .withLabels(labels)
        .withOwnerReferences(reference(job))
        .build();
  }
}
