package dev.kiln.operator.manifests;

import dev.kiln.api.runconfig.PodPaths;
import dev.kiln.api.v1alpha1.DataJobResourcesSpec;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The CPU-only Job shape shared by filter and pack: data-jobs image, retries by Kubernetes. */
final class DataJobs {

  static final String CONTAINER = PackJobManifest.CONTAINER;
  /**
   * The JVM's heap as a share of the container's memory limit (the JVM's own default is 25%): the
   * scorers' weights and the packer's sample index live on the heap, and little else uses the pod.
   */
  static final String JVM_OPTIONS = "-XX:MaxRAMPercentage=75";

  /** Retries per index for transient I/O errors; corrupt samples are skipped by the program itself. */
  static final int BACKOFF_LIMIT = 3;

  private DataJobs() {}

  static int gpus(DataJobResourcesSpec resources) {
    return resources.gpus() == null ? 0 : resources.gpus();
  }

  /** Requests cpu and memory, memory also as the limit; GPUs, where asked for, as extended resources are: both. */
  private static ResourceRequirements resources(DataJobResourcesSpec resources) {
    ResourceRequirementsBuilder built = new ResourceRequirementsBuilder()
        .addToRequests("cpu", new Quantity(resources.cpu()))
        .addToRequests("memory", new Quantity(resources.memory()))
        .addToLimits("memory", new Quantity(resources.memory()));
    if (gpus(resources) > 0) {
      Quantity gpus = new Quantity(Integer.toString(gpus(resources)));
      built.addToRequests(StageJobManifest.GPU, gpus).addToLimits(StageJobManifest.GPU, gpus);
    }
    return built.build();
  }

  private static List<EnvVar> env(MultimodalPretrainJob job) {
    List<EnvVar> env = new ArrayList<>(PodParts.runtimeEnv(job));
    env.add(PodParts.env("JAVA_TOOL_OPTIONS", JVM_OPTIONS));
    return env;
  }

  static Job job(MultimodalPretrainJob job, String name, Map<String, String> labels, OperatorSettings settings,
      List<String> args, int completions, int parallelism, DataJobResourcesSpec resources) {
    String image = settings.dataJobsImage(job);
    Job built = new JobBuilder()
        .withMetadata(Owners.owned(job, name, Kueue.jobLabels(job, labels)))
        .withNewSpec()
          .withSuspend(Kueue.initialSuspend(job))
          .withCompletionMode(completions > 1 ? "Indexed" : "NonIndexed")
          .withCompletions(completions)
          .withParallelism(parallelism)
          .withBackoffLimit(completions > 1 ? null : BACKOFF_LIMIT)
          .withBackoffLimitPerIndex(completions > 1 ? BACKOFF_LIMIT : null)
          .withPodFailurePolicy(FailurePolicies.retryDisruptionsNotBadInput(CONTAINER))
          .withNewTemplate()
            .withNewMetadata().withLabels(labels).endMetadata()
            .withNewSpec()
              .withRestartPolicy("Never")
              .withSecurityContext(PodParts.podSecurity())
              .withEnableServiceLinks(false)
              .withAffinity(PodParts.dataPrepAffinity(job))
              .withVolumes(PodParts.volumes(job))
              .withContainers(new ContainerBuilder()
                  .withName(CONTAINER)
                  .withImage(image)
                  .withImagePullPolicy(settings.imagePullPolicy())
                  .withArgs(args)
                  .withEnv(env(job))
                  .withVolumeMounts(PodParts.mounts(job))
                  .withSecurityContext(PodParts.containerSecurity())
                  .withTerminationMessagePath(PodPaths.TERMINATION_MESSAGE)
                  .withTerminationMessagePolicy("FallbackToLogsOnError")
                  .withResources(resources(resources))
                  .build())
            .endSpec()
          .endTemplate()
        .endSpec()
        .build();
    if (gpus(resources) > 0) {
      built.getSpec().getTemplate().getSpec().setTolerations(new ArrayList<>(List.of(StageJobManifest.gpuToleration())));
    }
    PodParts.applySettings(built, job.getSpec().data().pod(), "");
    return built;
  }
}
