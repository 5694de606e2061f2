package dev.kiln.operator.manifests;

import dev.kiln.api.runconfig.PodPaths;
import dev.kiln.api.v1alpha1.DataJobResourcesSpec;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.util.List;
import java.util.Optional;

/**
 * The Job that writes a sample dataset into the job's data claim before data preparation, when the
 * job asks for one with {@value MultimodalPretrainJob#SAMPLE_DATA_ANNOTATION} (the quickstarts: {@code shapes}). It runs the
 * trainer image's {@code sample-data} command, which generates the data only where it is missing,
 * with the data claim mounted writable: the only pod that writes there. A cluster without the
 * claim gets one, so that the quickstart runs anywhere with {@code kubectl apply} alone.
 */
public final class SampleDataJobManifest {

  private static final DataJobResourcesSpec RESOURCES = new DataJobResourcesSpec("1", "2Gi");
  /** The shapes data takes about 20 MB. */
  static final String CLAIM_SIZE = "1Gi";

  private SampleDataJobManifest() {}

  /** The dataset the job asks for, if any. */
  public static Optional<String> requested(MultimodalPretrainJob job) {
    return job.sampleDataAnnotation().filter(n -> !n.isBlank());
  }

  /**
   * The data claim, for a cluster that has none yet: 1Gi, ReadWriteOnce, the default storage
   * class, owned by the job. A claim that exists already (the user's) is left as it is.
   */
  public static PersistentVolumeClaim dataClaim(MultimodalPretrainJob job) {
    return new PersistentVolumeClaimBuilder()
        .withMetadata(Owners.owned(job, job.getSpec().data().claimName(), Labels.of(job, Labels.SAMPLE_DATA)))
        .withNewSpec()
          .withAccessModes("ReadWriteOnce")
          .withNewResources().addToRequests("storage", new Quantity(CLAIM_SIZE)).endResources()
        .endSpec()
        .build();
  }

  public static Job build(MultimodalPretrainJob job, String dataset, OperatorSettings settings) {
    Job built = DataJobs.job(job, Names.sampleDataJob(job), Labels.of(job, Labels.SAMPLE_DATA), settings,
        List.of("sample-data", dataset, PodPaths.DATA), 1, 1, RESOURCES);
    var pod = built.getSpec().getTemplate().getSpec();
    var container = pod.getContainers().getFirst();
    container.setImage(settings.trainerImage());
    pod.getVolumes().stream().filter(v -> v.getName().equals("data"))
        .forEach(v -> v.getPersistentVolumeClaim().setReadOnly(null));
    container.getVolumeMounts().stream().filter(m -> m.getName().equals("data")).forEach(m -> m.setReadOnly(null));
    return built;
  }
}
