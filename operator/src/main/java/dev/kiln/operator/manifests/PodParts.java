package dev.kiln.operator.manifests;

import dev.kiln.api.runconfig.CpuLimit;
import dev.kiln.api.runconfig.PodPaths;
import dev.kiln.api.runconfig.WritableFolder;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.PodSettingsSpec;
import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.AffinityBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSecurityContextBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Pieces every Kiln pod shares: a locked-down security context, volumes, and runtime environment. */
final class PodParts {

  /** An unprivileged uid/gid that owns files on the working volume (fsGroup). */
  static final long USER = 65532L;

  private PodParts() {}

  static PodSecurityContext podSecurity() {
    return new PodSecurityContextBuilder()
        .withRunAsNonRoot(true)
        .withRunAsUser(USER)
        .withRunAsGroup(USER)
        .withFsGroup(USER)
        // Without it the kubelet changes the group of every file on every claim at every pod start:
        // hours on a multi-terabyte workspace. A claim whose root already has the group is left alone.
        .withFsGroupChangePolicy("OnRootMismatch")
        .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile()
        .build();
  }

  static SecurityContext containerSecurity() {
    return new SecurityContextBuilder()
        .withAllowPrivilegeEscalation(false)
        .withReadOnlyRootFilesystem(true)
        .withRunAsNonRoot(true)
        .withNewCapabilities().withDrop("ALL").endCapabilities()
        .build();
  }

  /**
   * Adds what the job asks of a pod on top of what Kiln set ({@code pod} may be null): node
   * selector, tolerations, priority class, service account, runtime class ({@code defaultRuntimeClass}
   * when it names none, empty for none), extended resources as request and limit, labels,
   * annotations and environment. Validation has refused what would replace Kiln's own.
   */
  static void applySettings(Job built, PodSettingsSpec pod, String defaultRuntimeClass) {
    PodSpec spec = built.getSpec().getTemplate().getSpec();
    String runtimeClass = pod != null && pod.runtimeClassName() != null ? pod.runtimeClassName() : defaultRuntimeClass;
    if (runtimeClass != null && !runtimeClass.isEmpty()) {
      spec.setRuntimeClassName(runtimeClass);
    }
    if (pod == null) {
      return;
    }
    if (!pod.nodeSelector().isEmpty()) {
      spec.setNodeSelector(new TreeMap<>(pod.nodeSelector()));
    }
    if (!pod.tolerations().isEmpty()) {
      List<Toleration> tolerations = new ArrayList<>(spec.getTolerations() == null ? List.of() : spec.getTolerations());
      tolerations.addAll(pod.tolerations());
      spec.setTolerations(tolerations);
    }
    spec.setPriorityClassName(pod.priorityClassName());
    spec.setServiceAccountName(pod.serviceAccountName());
    Container container = spec.getContainers().getFirst();
    new TreeMap<>(pod.extraResources()).forEach((name, amount) -> {
      container.getResources().getRequests().put(name, new Quantity(amount));
      container.getResources().getLimits().put(name, new Quantity(amount));
    });
    container.getEnv().addAll(pod.env());
    ObjectMeta metadata = built.getSpec().getTemplate().getMetadata();
    metadata.setLabels(kilnsFirst(metadata.getLabels(), pod.labels()));
    if (!pod.annotations().isEmpty()) {
      metadata.setAnnotations(kilnsFirst(metadata.getAnnotations(), pod.annotations()));
    }
  }

  /** Kiln's entries in their order, then the job's (sorted) where Kiln has none of that key. */
  private static Map<String, String> kilnsFirst(Map<String, String> kilns, Map<String, String> jobs) {
    Map<String, String> merged = new LinkedHashMap<>(kilns == null ? Map.of() : kilns);
    new TreeMap<>(jobs).forEach(merged::putIfAbsent);
    return merged;
  }

  /** Volumes: work (rw), data (ro), weights (ro, when set), tmp; the caller adds its own. */
  static List<Volume> volumes(MultimodalPretrainJob job) {
    List<Volume> volumes = new ArrayList<>();
    volumes.add(claim("work", Names.checkpointClaim(job), false));
    volumes.add(claim("data", job.getSpec().data().claimName(), true));
    if (job.getSpec().model().initialWeights() != null) {
      volumes.add(claim("weights", job.getSpec().model().initialWeights().claimName(), true));
    }
    volumes.add(new VolumeBuilder().withName("tmp").withNewEmptyDir().endEmptyDir().build());
    return volumes;
  }

  /**
   * Keeps a job's data-prep pods on one node unless its workspace may be attached to several:
   * a {@code ReadWriteOnce} claim is attached to one node, and pods of a parallel filter Job spread
   * over others would wait forever on a multi-attach error. Only a claim the operator creates with
   * {@code ReadWriteMany} is known to be shared; an existing claim is treated as node-local. The
   * first pod goes anywhere; the rest follow it.
   */
  static Affinity dataPrepAffinity(MultimodalPretrainJob job) {
    if (workspaceSharedAcrossNodes(job)) {
      return null;
    }
    return new AffinityBuilder().withNewPodAffinity()
        .addNewRequiredDuringSchedulingIgnoredDuringExecution()
          .withNewLabelSelector()
            .addToMatchLabels(Labels.JOB, job.getMetadata().getName())
            .addNewMatchExpression().withKey(Labels.COMPONENT).withOperator("In")
              .withValues(Labels.SAMPLE_DATA, Labels.FILTER, Labels.PACK).endMatchExpression()
          .endLabelSelector()
          .withTopologyKey("kubernetes.io/hostname")
        .endRequiredDuringSchedulingIgnoredDuringExecution()
        .endPodAffinity().build();
  }

  /** Whether the job's workspace claim may be mounted on several nodes at once. */
  static boolean workspaceSharedAcrossNodes(MultimodalPretrainJob job) {
    var claim = job.getSpec().checkpoints().volumeClaim();
    return job.getSpec().checkpoints().existingClaim() == null && claim != null
        && claim.accessModes().contains("ReadWriteMany");
  }

  static List<VolumeMount> mounts(MultimodalPretrainJob job) {
    List<VolumeMount> mounts = new ArrayList<>();
    mounts.add(mount("work", PodPaths.WORK, false));
    mounts.add(mount("data", PodPaths.DATA, true));
    if (job.getSpec().model().initialWeights() != null) {
      mounts.add(mount("weights", PodPaths.WEIGHTS, true));
    }
    mounts.add(mount("tmp", PodPaths.TMP, false));
    return mounts;
  }

  /** Shared memory for collectives between the ranks of a pod; the default 64Mi is far too small. */
  static Volume sharedMemory(String sizeLimit) {
    return new VolumeBuilder().withName("shm")
        .withNewEmptyDir().withMedium("Memory").withSizeLimit(new Quantity(sizeLimit)).endEmptyDir()
        .build();
  }

  static VolumeMount mount(String name, String path, boolean readOnly) {
    VolumeMountBuilder builder = new VolumeMountBuilder().withName(name).withMountPath(path);
    return readOnly ? builder.withReadOnly(true).build() : builder.build();
  }

  /**
   * DJL must never reach the network and must unpack natives onto writable scratch space; the
   * workspace claim's name lets a program that cannot write to it say which claim to fix.
   */
  static List<EnvVar> runtimeEnv(MultimodalPretrainJob job) {
    return List.of(
        env("DJL_OFFLINE", "true"),
        env("OPT_OUT_TRACKING", "true"),
        env("DJL_CACHE_DIR", PodPaths.TMP + "/djl"),
        env("HOME", PodPaths.TMP),
        env(WritableFolder.CLAIM_ENV, Names.checkpointClaim(job)));
  }

  /** The container's CPU limit in whole cores (its node's CPUs when it has none), for sizing thread pools. */
  static EnvVar cpuLimitEnv(String container) {
    return new EnvVarBuilder().withName(CpuLimit.ENV).withNewValueFrom().withNewResourceFieldRef()
        .withContainerName(container).withResource("limits.cpu").withDivisor(new Quantity("1"))
        .endResourceFieldRef().endValueFrom().build();
  }

  static EnvVar env(String name, String value) {
    return new EnvVarBuilder().withName(name).withValue(value).build();
  }

  /** Tokenizer path inside the pod: packing's, else the initial weights'. */
  static String tokenizer(MultimodalPretrainJob job) {
    String packing = job.getSpec().data().packing().tokenizer();
    if (packing != null) {
      return PodPaths.data(packing);
    }
    return PodPaths.weights(job.getSpec().model().initialWeights().tokenizer());
  }

  private static Volume claim(String name, String claimName, boolean readOnly) {
    return new VolumeBuilder().withName(name)
        .withNewPersistentVolumeClaim().withClaimName(claimName).withReadOnly(readOnly ? true : null)
        .endPersistentVolumeClaim()
        .build();
  }
}
