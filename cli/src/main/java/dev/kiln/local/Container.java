package dev.kiln.local;

import dev.kiln.api.runconfig.PodRoot;
import dev.kiln.api.scheduling.ResourceList;
import dev.kiln.model.ComputeDevice;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.ObjectFieldSelector;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceFieldSelector;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One pod's container run as a local process, the way a kubelet would run it: a folder stands in
 * for the container's {@code /} (its volume mounts are links to the volumes' folders), the pod's
 * args and env are passed as they are (field references resolved), the process works in that
 * folder and is told its root in {@code KILN_ROOT}. Output goes to the pod's log file.
 */
final class Container implements ContainerRuntime.RunningContainer {

  /** Bytes of log kept as the termination message when the program wrote none and failed (the kubelet's limit). */
  static final int LOG_TAIL_BYTES = 2048;

  private final Pod pod;
  private final Path folder;
  private final Path root;
  private final Path log;
  private final String terminationMessagePath;
  private final String podIp;
  private Process process;

  private Container(Pod pod, Path folder, String podIp) {
    this.pod = pod;
    this.folder = folder;
    this.podIp = podIp;
    this.root = folder.resolve("root");
    this.log = folder.resolve("log");
    String path = pod.getSpec().getContainers().getFirst().getTerminationMessagePath();
    this.terminationMessagePath = path != null ? path : "/dev/termination-log";
  }

  /** Lays out the pod's filesystem and starts its first container, the pod's address being {@code podIp}. */
  static Container start(Pod pod, Path folder, String podIp, ImageCatalog.Program program, Map<String, Path> claimFolders,
      KubernetesClient client, Path djlCache, Path hostsFile) throws IOException {
    Container container = new Container(pod, folder, podIp);
    container.layOut(claimFolders, client);
    container.launch(program, client, djlCache, hostsFile);
    return container;
  }

  private void layOut(Map<String, Path> claimFolders, KubernetesClient client) throws IOException {
    // A pod of the same name from an earlier run (kiln run --resume) left its root and volumes: a new
    // pod starts with neither. Its log is kept, and this pod's output follows it.
    deleteWithoutFollowingLinks(root);
    deleteWithoutFollowingLinks(folder.resolve("volumes"));
    Files.createDirectories(root);
    Map<String, Path> volumes = new LinkedHashMap<>();
    for (Volume volume : pod.getSpec().getVolumes()) {
      Path target;
      if (volume.getPersistentVolumeClaim() != null) {
        target = claimFolders.get(volume.getPersistentVolumeClaim().getClaimName());
      } else if (volume.getConfigMap() != null) {
        target = folder.resolve("volumes").resolve(volume.getName());
        ConfigMap map = client.configMaps().inNamespace(namespace()).withName(volume.getConfigMap().getName()).get();
        writeFiles(target, map == null ? Map.of() : map.getData(), false);
      } else if (volume.getSecret() != null) {
        target = folder.resolve("volumes").resolve(volume.getName());
        Secret secret = client.secrets().inNamespace(namespace()).withName(volume.getSecret().getSecretName()).get();
        writeFiles(target, secret == null ? Map.of() : secret.getData(), true);
      } else {
        target = folder.resolve("volumes").resolve(volume.getName());
      }
      Files.createDirectories(target);
      volumes.put(volume.getName(), target);
    }
    for (VolumeMount mount : pod.getSpec().getContainers().getFirst().getVolumeMounts()) {
      Path link = root.resolve(mount.getMountPath().substring(1));
      Files.createDirectories(link.getParent());
      Path target = volumes.get(mount.getName());
      if (mount.getSubPath() != null && !mount.getSubPath().isEmpty()) {
        target = target.resolve(mount.getSubPath());
      }
      Files.createSymbolicLink(link, target.toAbsolutePath());
    }
    Path message = root.resolve(terminationMessagePath.substring(1));
    Files.createDirectories(message.getParent());
    Files.write(message, new byte[0]);
  }

  /** Deletes a tree; the symbolic links in it (mounted volumes) go, never what they point to. */
  private static void deleteWithoutFollowingLinks(Path tree) throws IOException {
    if (!Files.exists(tree, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(tree)) {  // walk does not follow links unless told to
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(path);
      }
    }
  }

  private static void writeFiles(Path dir, Map<String, String> data, boolean base64) throws IOException {
    Files.createDirectories(dir);
    if (data == null) {
      return;
    }
    for (var entry : data.entrySet()) {
      byte[] bytes = base64 ? Base64.getDecoder().decode(entry.getValue()) : entry.getValue().getBytes(StandardCharsets.UTF_8);
      Files.write(dir.resolve(entry.getKey()), bytes);
    }
  }

  /**
   * What a container sees of its node besides its own spec: the basics, and the settings that pick
   * the CPU's kernels (a real node's CPU decides them; here the host's variables stand in for it).
   */
  static final Set<String> NODE_ENVIRONMENT = Set.of("PATH", "LANG", "TZ", "ATEN_CPU_CAPABILITY",
      "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR");

  private void launch(ImageCatalog.Program program, KubernetesClient client, Path djlCache, Path hostsFile)
      throws IOException {
    var spec = pod.getSpec().getContainers().getFirst();
    // The pods' names resolve through the local node's hosts file, as cluster DNS would resolve them.
    List<String> command = new ArrayList<>(List.of(OperatorProcess.javaBinary(), "--enable-native-access=ALL-UNNAMED",
        "-XX:+UseSerialGC", "-Djdk.net.hosts.file=" + hostsFile.toAbsolutePath(),
        // A peer's name appears once its pod has an address: look again at once rather than cache the miss.
        "-Dsun.net.inetaddr.negative.ttl=0",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=info", "-Dorg.slf4j.simpleLogger.log.ai.djl.util.cuda=error"));
    // A JVM in a container sizes its heap from the cgroup's memory limit: tell this one the same.
    memoryLimit(spec).ifPresent(bytes -> command.add("-XX:MaxRAM=" + bytes));
    command.addAll(List.of("-cp", program.classPath(), program.mainClass()));
    if (spec.getArgs() != null) {
      command.addAll(spec.getArgs());
    }
    ProcessBuilder builder = new ProcessBuilder(command).directory(root.toFile())
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    Map<String, String> env = builder.environment();
    env.keySet().removeIf(name -> !NODE_ENVIRONMENT.contains(name));
    String index = annotation("batch.kubernetes.io/job-completion-index");
    if (index != null) {
      env.put("JOB_COMPLETION_INDEX", index);
    }
    if (spec.getEnv() != null) {
      for (EnvVar var : spec.getEnv()) {
        env.put(var.getName(), value(var, client));
      }
    }
    env.put(PodRoot.ENV, root.toAbsolutePath().toString());
    if (ResourceList.requestedBy(pod).gpus() > 0) {
      // This node's GPUs are fake: the trainer is told, in Kiln's own setting, to use the CPU.
      env.put(ComputeDevice.ENV, ComputeDevice.CPU);
    }
    // The node's DJL cache plays the image layer that holds libtorch: extracted once, not per pod.
    env.put("DJL_CACHE_DIR", djlCache.toAbsolutePath().toString());
    env.put("DJL_OFFLINE", "true");
    env.put("OPT_OUT_TRACKING", "true");
    process = builder.start();
  }

  private String value(EnvVar var, KubernetesClient client) {
    if (var.getValueFrom() == null) {
      return var.getValue() == null ? "" : var.getValue();
    }
    var resourceField = var.getValueFrom().getResourceFieldRef();
    if (resourceField != null) {
      return resourceFieldValue(resourceField, pod.getSpec().getContainers().getFirst());
    }
    ObjectFieldSelector field = var.getValueFrom().getFieldRef();
    if (field != null) {
      String path = field.getFieldPath();
      if (path.startsWith("metadata.annotations['")) {
        return orEmpty(annotation(path.substring("metadata.annotations['".length(), path.length() - 2)));
      }
      if (path.startsWith("metadata.labels['")) {
        return orEmpty(pod.getMetadata().getLabels().get(path.substring("metadata.labels['".length(), path.length() - 2)));
      }
      return switch (path) {
        case "metadata.name" -> pod.getMetadata().getName();
        case "metadata.namespace" -> namespace();
        case "spec.nodeName" -> orEmpty(pod.getSpec().getNodeName());
        case "status.podIP" -> podIp;
        case "status.hostIP" -> "127.0.0.1";
        default -> "";
      };
    }
    var secretKey = var.getValueFrom().getSecretKeyRef();
    if (secretKey != null) {
      Secret secret = client.secrets().inNamespace(namespace()).withName(secretKey.getName()).get();
      String encoded = secret == null || secret.getData() == null ? null : secret.getData().get(secretKey.getKey());
      return encoded == null ? "" : new String(Base64.getDecoder().decode(encoded), StandardCharsets.UTF_8);
    }
    var configKey = var.getValueFrom().getConfigMapKeyRef();
    if (configKey != null) {
      ConfigMap map = client.configMaps().inNamespace(namespace()).withName(configKey.getName()).get();
      return map == null || map.getData() == null ? "" : orEmpty(map.getData().get(configKey.getKey()));
    }
    return "";
  }

  /**
   * A container's resource as the downward API gives it: the limit (or request) divided by the
   * divisor and rounded up; a limit the container does not set is what its processes can use: this
   * machine's, which every local pod shares (a real kubelet gives its node's allocatable amount).
   */
  static String resourceFieldValue(ResourceFieldSelector field, io.fabric8.kubernetes.api.model.Container container) {
    var resources = container.getResources();
    boolean limit = field.getResource().startsWith("limits.");
    String name = field.getResource().substring(field.getResource().indexOf('.') + 1);
    var amounts = resources == null ? null : limit ? resources.getLimits() : resources.getRequests();
    Quantity amount = amounts == null ? null : amounts.get(name);
    BigDecimal value;
    if (amount != null) {
      value = amount.getNumericalAmount();
    } else if (!limit) {
      value = BigDecimal.ZERO;
    } else {
      value = BigDecimal.valueOf("cpu".equals(name) ? HostCapacity.cores() : HostCapacity.memoryBytes());
    }
    BigDecimal divisor = field.getDivisor() == null ? BigDecimal.ONE : field.getDivisor().getNumericalAmount();
    return value.divide(divisor, 0, RoundingMode.CEILING).toPlainString();
  }

  /** The container's memory limit in bytes, if it has one. */
  static OptionalLong memoryLimit(io.fabric8.kubernetes.api.model.Container container) {
    var limits = container.getResources() == null ? null : container.getResources().getLimits();
    Quantity memory = limits == null ? null : limits.get("memory");
    return memory == null ? OptionalLong.empty() : OptionalLong.of(memory.getNumericalAmount().longValue());
  }

  private String annotation(String key) {
    var annotations = pod.getMetadata().getAnnotations();
    return annotations == null ? null : annotations.get(key);
  }

  @Override
  public boolean alive() {
    return process.isAlive();
  }

  @Override
  public int exitCode() {
    return process.exitValue();
  }

  @Override
  public void kill(boolean now, long graceSeconds) {
    // The program's own children (a trainer's local ranks) go with it, as a container's processes
    // do; listed now, since once their parent is gone nothing links them to the pod.
    List<ProcessHandle> tree = process.descendants().toList();
    Runnable killTree = () -> {
      tree.forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
    };
    if (now) {
      killTree.run();
      return;
    }
    process.destroy();
    CompletableFuture.delayedExecutor(graceSeconds, TimeUnit.SECONDS).execute(killTree);
  }

  /**
   * What the kubelet reports as the termination message: the file the program wrote, or with
   * {@code FallbackToLogsOnError} the tail of the log when the program failed and wrote nothing.
   */
  @Override
  public String terminationMessage(int exitCode) throws IOException {
    Path file = root.resolve(terminationMessagePath.substring(1));
    String written = Files.isRegularFile(file) ? Files.readString(file) : "";
    String policy = pod.getSpec().getContainers().getFirst().getTerminationMessagePolicy();
    if (written.isBlank() && exitCode != 0 && "FallbackToLogsOnError".equals(policy)) {
      return logTail(LOG_TAIL_BYTES);
    }
    return written;
  }

  String logTail(int bytes) throws IOException {
    if (!Files.exists(log)) {
      return "";
    }
    try (RandomAccessFile file = new RandomAccessFile(log.toFile(), "r")) {
      long start = Math.max(0, file.length() - bytes);
      byte[] tail = new byte[(int) (file.length() - start)];
      file.seek(start);
      file.readFully(tail);
      return new String(tail, StandardCharsets.UTF_8);
    }
  }

  Path log() {
    return log;
  }

  Path root() {
    return root;
  }

  private String namespace() {
    return pod.getMetadata().getNamespace();
  }

  private static String orEmpty(String value) {
    return value == null ? "" : value;
  }
}
