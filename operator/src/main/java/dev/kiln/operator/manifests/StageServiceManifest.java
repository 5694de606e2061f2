package dev.kiln.operator.manifests;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;

/**
 * Headless Service of a stage: gives each rank pod a stable DNS name
 * ({@code <attempt-job>-<index>.<service>}) so ranks can meet at index 0 before they are Ready.
 */
public final class StageServiceManifest {

  private StageServiceManifest() {}

  public static Service build(MultimodalPretrainJob job, String stage, OperatorSettings settings) {
    return new ServiceBuilder()
        .withMetadata(Owners.owned(job, Names.stageService(job, stage), Labels.stage(job, stage)))
        .withNewSpec()
          .withClusterIP("None")
          .withPublishNotReadyAddresses(true)
          .withSelector(Labels.stage(job, stage))
          .addNewPort().withName("rendezvous").withPort(settings.masterPort()).withProtocol("TCP").endPort()
        .endSpec()
        .build();
  }
}
