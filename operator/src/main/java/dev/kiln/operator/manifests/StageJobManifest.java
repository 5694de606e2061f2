package dev.kiln.operator.manifests;

import dev.kiln.api.runconfig.PodPaths;
import dev.kiln.api.runconfig.TrainerProgress;
import dev.kiln.api.sizing.GpuPeaks;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.ResourcesSpec;
import dev.kiln.api.v1alpha1.SchedulingSpec;
import dev.kiln.api.v1alpha1.StageSpec;
import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.AffinityBuilder;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSchedulingGateBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * One attempt of a stage: an Indexed Job with one pod per node (completions = parallelism =
 * nodes), each running the trainer for all GPUs of its node. Any pod failing fails the attempt
 * (backoffLimit 0); the operator, not the Job controller, decides whether to try again.
 */
public final class StageJobManifest {

  public static final String GPU = "nvidia.com/gpu";
  public static final String GPU_PRODUCT_LABEL = "nvidia.com/gpu.product";
  public static final String COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index";
  /**
   * The gate a queued GPU stage's pods are created with: the kube-scheduler leaves them alone until
   * the operator has given each the node admission planned for its rank ({@link #PLACEMENT_ANNOTATION})
   * and removed the gate, so the plan is where the gang runs.
   */
  public static final String SCHEDULING_GATE = "kiln.dev/placement";
  /** On an attempt Job: the node planned for each rank, comma-separated in rank order. */
  public static final String PLACEMENT_ANNOTATION = "kiln.dev/placement";
  public static final String HOSTNAME_LABEL = "kubernetes.io/hostname";
  /** The trainer's container, as pods report it. */
  public static final String CONTAINER = "trainer";
  static final String SHARED_MEMORY = "16Gi";
  static final String RENDEZVOUS_TIMEOUT_ENV = "KILN_RENDEZVOUS_TIMEOUT_SECONDS";
  static final int RENDEZVOUS_GRACE_SECONDS = 60;
  /**
   * Requests per GPU when a stage sets no {@code cpu} or {@code memory}: without requests a pod is
   * BestEffort (the first evicted) and a namespace with a compute ResourceQuota refuses it. Sized to
   * fit the common 8-GPU nodes (96 vCPUs and 680 GB or more) and 4-GPU ones (48 vCPUs, 192 GB).
   */
  static final int DEFAULT_CPUS_PER_GPU = 6;
  static final int DEFAULT_MEMORY_GI_PER_GPU = 32;
  /** The same for a stage on CPU, per pod. */
  static final String DEFAULT_CPUS_WITHOUT_GPU = "2";
  static final String DEFAULT_MEMORY_WITHOUT_GPU = "8Gi";

  private StageJobManifest() {}

  public static Job build(MultimodalPretrainJob job, int stageIndex, int attempt, OperatorSettings settings) {
    StageSpec stage = job.getSpec().stages().get(stageIndex);
    ResourcesSpec resources = stage.resources();
    boolean gpu = resources.gpusPerNode() > 0;
    String image = settings.trainerImage(job, stage);
    Map<String, String> podLabels = Labels.attempt(job, stage.name(), attempt);

    List<Volume> volumes = new ArrayList<>(PodParts.volumes(job));
    volumes.add(new VolumeBuilder().withName("config")
        .withNewConfigMap().withName(Names.runConfig(job, stage.name())).endConfigMap().build());
    List<VolumeMount> mounts = new ArrayList<>(PodParts.mounts(job));
    mounts.add(PodParts.mount("config", PodPaths.CONFIG_DIR, true));
    if (gpu) {
      volumes.add(PodParts.sharedMemory(SHARED_MEMORY));
      mounts.add(PodParts.mount("shm", "/dev/shm", false));
    }

    Job built = new JobBuilder()
        .withMetadata(Owners.owned(job, Names.attemptJob(job, stage.name(), attempt), Kueue.jobLabels(job, podLabels)))
        .withNewSpec()
          .withSuspend(Kueue.initialSuspend(job))
          .withCompletionMode("Indexed")
          .withCompletions(resources.nodes())
          .withParallelism(resources.nodes())
          .withBackoffLimit(0)
          .withPodFailurePolicy(FailurePolicies.failOnDisruption())
          .withNewTemplate()
            .withNewMetadata().withLabels(podLabels).withAnnotations(Kueue.topology(job, resources)).endMetadata()
            .withNewSpec()
              .withRestartPolicy("Never")
              // Time to finish the step and write a checkpoint on SIGTERM (preemption, eviction, drain).
              .withTerminationGracePeriodSeconds(job.getSpec().scheduling().stopGracePeriodSeconds().longValue())
              .withSubdomain(Names.stageService(job, stage.name()))
              .withSecurityContext(PodParts.podSecurity())
              .withEnableServiceLinks(false)
              .withTolerations(gpu ? List.of(gpuToleration()) : List.of())
              .withSchedulingGates(gated(job, stage) ? List.of(new PodSchedulingGateBuilder().withName(SCHEDULING_GATE).build())
                  : List.of())
              .withAffinity(gpu && resources.gpuProduct() != null ? gpuProductAffinity(resources.gpuProduct()) : null)
              .withVolumes(volumes)
              .withContainers(new ContainerBuilder()
                  .withName(CONTAINER)
                  .withImage(image)
                  .withImagePullPolicy(settings.imagePullPolicy())
                  .withArgs("train", "--config", PodPaths.RUN_CONFIG)
                  .withEnv(env(job, stage, attempt, settings))
                  .withPorts(new io.fabric8.kubernetes.api.model.ContainerPortBuilder()
                      .withName("rendezvous").withContainerPort(settings.masterPort()).build(),
                      new io.fabric8.kubernetes.api.model.ContainerPortBuilder()
                      .withName("metrics").withContainerPort(TrainerProgress.DEFAULT_PORT).build())
                  .withResources(resources(resources))
                  .withVolumeMounts(mounts)
                  .withSecurityContext(PodParts.containerSecurity())
                  .withTerminationMessagePath(PodPaths.TERMINATION_MESSAGE)
                  .withTerminationMessagePolicy("FallbackToLogsOnError")
                  .build())
            .endSpec()
          .endTemplate()
        .endSpec()
        .build();
    PodParts.applySettings(built, stage.pod(), gpu ? settings.gpuRuntimeClassName() : "");
    var podSpec = built.getSpec().getTemplate().getSpec();
    if (podSpec.getPriorityClassName() == null) {
      podSpec.setPriorityClassName(job.getSpec().scheduling().priorityClassName());  // the job's class, where Kueue reads it
    }
    return built;
  }

  private static List<EnvVar> env(MultimodalPretrainJob job, StageSpec stage, int attempt, OperatorSettings settings) {
    ResourcesSpec resources = stage.resources();
    List<EnvVar> env = new ArrayList<>();
    env.add(PodParts.env("KILN_RUN_CONFIG", PodPaths.RUN_CONFIG));
    env.add(PodParts.env("KILN_ATTEMPT", Integer.toString(attempt)));
    env.add(new EnvVarBuilder().withName("KILN_NODE_RANK")
        .withNewValueFrom().withNewFieldRef().withFieldPath("metadata.annotations['" + COMPLETION_INDEX_ANNOTATION + "']")
        .endFieldRef().endValueFrom().build());
    env.add(PodParts.env("KILN_NNODES", Integer.toString(resources.nodes())));
    env.add(PodParts.env("KILN_GPUS_PER_NODE", Integer.toString(resources.gpusPerNode())));
    env.add(PodParts.env("WORLD_SIZE", Integer.toString(resources.worldSize())));
    env.add(PodParts.env("MASTER_ADDR", Names.rendezvousHost(job, stage.name(), attempt)));
    env.add(PodParts.env("MASTER_PORT", Integer.toString(settings.masterPort())));
    // Ranks wait for their peers a little longer than the operator waits for the gang to start, so that
    // a peer that never starts is the operator's to call (a disruption), not a failed attempt.
    env.add(PodParts.env(RENDEZVOUS_TIMEOUT_ENV, Long.toString(
        job.getSpec().scheduling().startupDeadlineSeconds() + RENDEZVOUS_GRACE_SECONDS)));
    env.add(PodParts.env(TrainerProgress.PORT_ENV, Integer.toString(TrainerProgress.DEFAULT_PORT)));
    env.add(PodParts.cpuLimitEnv(CONTAINER));
    // The address this rank offers its ring neighbour.
    env.add(new EnvVarBuilder().withName("KILN_RANK_ADDRESS")
        .withNewValueFrom().withNewFieldRef().withFieldPath("status.podIP").endFieldRef().endValueFrom().build());
    env.addAll(PodParts.runtimeEnv(job));
    if (resources.gpusPerNode() > 0) {
      // libtorch's caching allocator otherwise keeps 5-7 GiB of split blocks at the recipe's size (measured
      // with Kiln's decoder in PyTorch on an H200; 0.6-2.5 GiB with this), which the memory model counts on.
      env.add(PodParts.env("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True"));
      GpuPeaks.of(resources.gpuProduct()).ifPresent(peak -> env.add(PodParts.env(GpuPeaks.ENV,
          String.format(Locale.ROOT, "%.4g", peak.of(stage.trainingPrecision())))));
    }
    return env;
  }

  /** Whether the stage's pods wait for the operator to place them: GPU stages Kiln's own queue admits. */
  public static boolean gated(MultimodalPretrainJob job, StageSpec stage) {
    return stage.resources().gpusPerNode() > 0 && job.getSpec().scheduling().mode() == SchedulingSpec.Mode.BUILTIN;
  }

  /** The pod still carries Kiln's scheduling gate: the scheduler leaves it alone until the operator pins it. */
  public static boolean gated(Pod pod) {
    return pod.getSpec() != null && pod.getSpec().getSchedulingGates() != null && pod.getSpec().getSchedulingGates()
        .stream().anyMatch(g -> SCHEDULING_GATE.equals(g.getName()));
  }

  /** The attempt Job with the nodes admission planned for its ranks recorded on it. */
  public static Job placed(Job attempt, List<String> nodes) {
    if (!nodes.isEmpty()) {
      Map<String, String> annotations = new TreeMap<>(attempt.getMetadata().getAnnotations() == null ? Map.of()
          : attempt.getMetadata().getAnnotations());
      annotations.put(PLACEMENT_ANNOTATION, String.join(",", nodes));
      attempt.getMetadata().setAnnotations(annotations);
    }
    return attempt;
  }

  /** The nodes planned for an attempt's ranks, in rank order; empty when none were. */
  public static List<String> placement(Job attempt) {
    var annotations = attempt.getMetadata().getAnnotations();
    String nodes = annotations == null ? null : annotations.get(PLACEMENT_ANNOTATION);
    return nodes == null || nodes.isBlank() ? List.of() : List.of(nodes.split(","));
  }

  /** The rank of an Indexed Job's pod; {@link Integer#MAX_VALUE} when it carries none. */
  public static int completionIndex(Pod pod) {
    var annotations = pod.getMetadata().getAnnotations();
    String index = annotations == null ? null : annotations.get(COMPLETION_INDEX_ANNOTATION);
    try {
      return index == null ? Integer.MAX_VALUE : Integer.parseInt(index);
    } catch (NumberFormatException e) {
      return Integer.MAX_VALUE;
    }
  }

  /**
   * What each pod of the stage requests, as its built Job's container does: GPUs, cpu, memory and
   * the pod settings' extra resources. Admission counts exactly this against the nodes.
   */
  public static Map<String, Quantity> podRequests(StageSpec stage) {
    Map<String, Quantity> requests = new TreeMap<>(resources(stage.resources()).getRequests());
    if (stage.pod() != null) {
      stage.pod().extraResources().forEach((name, amount) -> requests.put(name, new Quantity(amount)));
    }
    return requests;
  }

  /**
   * GPUs as request and limit; CPU as request, and as limit only when the stage sets it (a CPU
   * limit throttles the data loader and collectives); memory as request and limit, so that a rank
   * over it is OOMKilled in its own pod rather than its node running out.
   */
  static ResourceRequirements resources(ResourcesSpec resources) {
    ResourceRequirementsBuilder builder = new ResourceRequirementsBuilder();
    int gpus = resources.gpusPerNode();
    if (gpus > 0) {
      Quantity quantity = new Quantity(Integer.toString(gpus));
      builder.addToRequests(GPU, quantity).addToLimits(GPU, quantity);
    }
    if (resources.cpu() != null) {
      builder.addToRequests("cpu", new Quantity(resources.cpu())).addToLimits("cpu", new Quantity(resources.cpu()));
    } else {
      builder.addToRequests("cpu", new Quantity(gpus > 0 ? Integer.toString(DEFAULT_CPUS_PER_GPU * gpus) : DEFAULT_CPUS_WITHOUT_GPU));
    }
    Quantity memory = new Quantity(resources.memory() != null ? resources.memory()
        : gpus > 0 ? DEFAULT_MEMORY_GI_PER_GPU * gpus + "Gi" : DEFAULT_MEMORY_WITHOUT_GPU);
    builder.addToRequests("memory", memory).addToLimits("memory", memory);
    return builder.build();
  }

  /** What every GPU stage pod tolerates: the device plugin's usual {@code nvidia.com/gpu:NoSchedule} taint, no other effect. */
  public static Toleration gpuToleration() {
    return new TolerationBuilder().withKey(GPU).withOperator("Exists").withEffect("NoSchedule").build();
  }

  private static Affinity gpuProductAffinity(String product) {
    return new AffinityBuilder()
        .withNewNodeAffinity()
          .withNewRequiredDuringSchedulingIgnoredDuringExecution()
            .addNewNodeSelectorTerm()
              .addNewMatchExpression().withKey(GPU_PRODUCT_LABEL).withOperator("In").withValues(product).endMatchExpression()
            .endNodeSelectorTerm()
          .endRequiredDuringSchedulingIgnoredDuringExecution()
        .endNodeAffinity()
        .build();
  }
}
