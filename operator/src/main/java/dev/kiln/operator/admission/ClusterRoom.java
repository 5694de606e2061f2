package dev.kiln.operator.admission;

import dev.kiln.operator.manifests.StageJobManifest;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Taint;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Free GPUs per node, as the scheduler will find them: allocatable {@code nvidia.com/gpu} of nodes
 * that are ready, schedulable and carry no taint a Kiln pod does not tolerate, minus what pods
 * bound there hold. Admission places whole gangs on it (best fit, so big gangs still find whole
 * nodes); a gang that does not fit takes nothing.
 */
public final class ClusterRoom {

  private static final String GPU = StageJobManifest.GPU;
  private static final String PRODUCT_LABEL = StageJobManifest.GPU_PRODUCT_LABEL;

  private final Map<String, Integer> free;
  private final Map<String, String> products;
  /**
   * Gangs found not to fit, and free GPUs per gang, since the room last grew: a queue's plan asks
   * the same of hundreds of waiting stages of few shapes, and placing or reserving only takes room.
   */
  private final Set<Gang> unplaceable = new HashSet<>();
  private final Map<Gang, Integer> freeFor = new HashMap<>();

  private ClusterRoom(Map<String, Integer> free, Map<String, String> products) {
    this.free = free;
    this.products = products;
  }

  /** The room on {@code nodes} once {@code pods} (every pod of the cluster, any owner) hold their GPUs. */
  public static ClusterRoom of(List<Node> nodes, List<Pod> pods) {
    Map<String, Integer> free = new LinkedHashMap<>();
    Map<String, String> products = new LinkedHashMap<>();
    for (Node node : nodes.stream().sorted(Comparator.comparing(n -> n.getMetadata().getName())).toList()) {
      int gpus = allocatable(node);
      if (gpus > 0 && usable(node)) {
        free.put(node.getMetadata().getName(), gpus);
        Map<String, String> labels = node.getMetadata().getLabels();
        products.put(node.getMetadata().getName(), labels == null ? null : labels.get(PRODUCT_LABEL));
      }
    }
    for (Pod pod : pods) {
      String node = pod.getSpec() == null ? null : pod.getSpec().getNodeName();
      if (node != null && free.containsKey(node) && !terminal(pod)) {
        free.merge(node, -gpus(pod), Integer::sum);
      }
    }
    return new ClusterRoom(free, products);
  }

  public ClusterRoom copy() {
    return new ClusterRoom(new LinkedHashMap<>(free), products);
  }

  /** Places every pod of the gang, or none: true when it fit (and now holds its GPUs here). */
  public boolean place(Gang gang) {
    if (gang.gpusPerPod() == 0) {
      return true;  // CPU pods: the scheduler weighs CPU and memory, which admission does not count
    }
    if (unplaceable.contains(gang)) {
      return false;
    }
    List<String> chosen = choose(gang);
    if (chosen.size() < gang.pods()) {
      unplaceable.add(gang);
      return false;
    }
    take(chosen, gang.gpusPerPod());
    return true;
  }

  /** Places as many of the gang's pods as fit: what a waiting gang holds back from those behind it. */
  public void reserve(Gang gang) {
    if (gang.pods() > 0) {
      take(choose(gang), gang.gpusPerPod());
    }
  }

  /** Gives back GPUs a pod held on a node (a stage about to be preempted). */
  public void release(String node, int gpus) {
    free.computeIfPresent(node, (n, f) -> f + gpus);
    unplaceable.clear();
    freeFor.clear();
  }

  /** Free GPUs on the nodes a gang could use. */
  public int free(Gang gang) {
    return freeFor.computeIfAbsent(gang, g -> free.entrySet().stream().filter(e -> matches(e.getKey(), g))
        .mapToInt(e -> Math.max(0, e.getValue())).sum());
  }

  private void take(List<String> nodes, int gpusPerPod) {
    if (!nodes.isEmpty()) {
      nodes.forEach(node -> free.merge(node, -gpusPerPod, Integer::sum));
      freeFor.clear();
    }
  }

  /** Up to {@code gang.pods()} distinct nodes that fit one pod each, fullest first. */
  private List<String> choose(Gang gang) {
    if (gang.gpusPerPod() == 0 || gang.pods() == 0) {
      return List.of();
    }
    List<Map.Entry<String, Integer>> fitting = new ArrayList<>();
    for (Map.Entry<String, Integer> node : free.entrySet()) {
      if (node.getValue() >= gang.gpusPerPod() && matches(node.getKey(), gang)) {
        fitting.add(node);
      }
    }
    fitting.sort(Map.Entry.<String, Integer>comparingByValue().thenComparing(Map.Entry.comparingByKey()));
    return fitting.stream().limit(gang.pods()).map(Map.Entry::getKey).toList();
  }

  private boolean matches(String node, Gang gang) {
    return gang.product() == null || Objects.equals(products.get(node), gang.product());
  }

  static int allocatable(Node node) {
    Quantity gpus = node.getStatus() == null || node.getStatus().getAllocatable() == null ? null
        : node.getStatus().getAllocatable().get(GPU);
    return gpus == null ? 0 : gpus.getNumericalAmount().intValue();
  }

  /** Ready (or not reporting), schedulable, and no taint but the GPU one that Kiln's pods tolerate. */
  static boolean usable(Node node) {
    if (node.getSpec() != null && Boolean.TRUE.equals(node.getSpec().getUnschedulable())) {
      return false;
    }
    List<Taint> taints = node.getSpec() == null || node.getSpec().getTaints() == null ? List.of() : node.getSpec().getTaints();
    if (taints.stream().anyMatch(t -> !GPU.equals(t.getKey()) && !"PreferNoSchedule".equals(t.getEffect()))) {
      return false;
    }
    List<NodeCondition> conditions = node.getStatus() == null || node.getStatus().getConditions() == null ? List.of()
        : node.getStatus().getConditions();
    return conditions.stream().filter(c -> "Ready".equals(c.getType())).allMatch(c -> "True".equals(c.getStatus()));
  }

  /** The pod has stopped for good (Succeeded or Failed): it holds no GPU and writes nothing. */
  public static boolean terminal(Pod pod) {
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    return "Succeeded".equals(phase) || "Failed".equals(phase);
  }

  /** GPUs the pod requests (limits when requests are absent, as the device plugin's resources go). */
  public static int gpus(Pod pod) {
    int total = 0;
    for (Container container : pod.getSpec().getContainers()) {
      var resources = container.getResources();
      if (resources == null) {
        continue;
      }
      Quantity q = resources.getRequests() != null && resources.getRequests().get(GPU) != null
          ? resources.getRequests().get(GPU) : resources.getLimits() != null ? resources.getLimits().get(GPU) : null;
      total += q == null ? 0 : q.getNumericalAmount().intValue();
    }
    return total;
  }
}
