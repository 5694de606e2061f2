package dev.kiln.local;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.NodeSelectorTerm;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodAffinityTerm;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Binds pending pods to the local nodes as the kube-scheduler's filters would, in its order:
 * unschedulable nodes, taints and tolerations, node selector and required node affinity, every
 * resource the pod requests (NodeResourcesFit: cpu, memory, {@code nvidia.com/gpu}, extended
 * resources and the pod slot, against allocatable minus what the node's pods request), and
 * required pod affinity on the node ({@code kubernetes.io/hostname}). Pods with scheduling gates
 * wait. Among the nodes that fit, the one running the fewest pods (the default scheduler spreads too).
 */
final class Scheduler {

  static final String GPU = "nvidia.com/gpu";
  static final String HOSTNAME = "kubernetes.io/hostname";
  static final String PODS = "pods";

  private final KubernetesClient client;

  Scheduler(KubernetesClient client) {
    this.client = client;
  }

  void sync(Snapshot snapshot) {
    Map<String, Map<String, BigDecimal>> requested = new HashMap<>();
    Map<String, Integer> podsOnNode = new HashMap<>();
    // Pods bound in this pass count for the ones after them, as the scheduler's cache assumes them.
    List<Pod> placed = new ArrayList<>();
    for (Pod pod : snapshot.pods()) {
      if (pod.getSpec().getNodeName() != null && !JobController.terminal(pod)) {
        add(requested, pod.getSpec().getNodeName(), requests(pod));
        podsOnNode.merge(pod.getSpec().getNodeName(), 1, Integer::sum);
        placed.add(pod);
      }
    }
    for (Pod pod : snapshot.pods()) {
      if (pod.getSpec().getNodeName() != null || JobController.terminal(pod) || JobController.deleting(pod)) {
        continue;
      }
      if (pod.getSpec().getSchedulingGates() != null && !pod.getSpec().getSchedulingGates().isEmpty()) {
        markPending(pod, "SchedulingGated", "Scheduling is blocked due to non-empty scheduling gates");
        continue;
      }
      Map<String, Integer> reasons = new TreeMap<>();
      List<Node> fitting = new ArrayList<>();
      for (Node node : snapshot.nodes()) {
        String name = node.getMetadata().getName();
        List<String> unfit = unfit(pod, node, requested.getOrDefault(name, Map.of()));
        if (unfit.isEmpty() && !podAffinityAllows(pod, name, placed)) {
          unfit = List.of("node(s) didn't match pod affinity rules");
        }
        unfit.forEach(reason -> reasons.merge(reason, 1, Integer::sum));
        if (unfit.isEmpty()) {
          fitting.add(node);
        }
      }
      Node chosen = fitting.stream()
          .min(Comparator.comparing((Node node) -> podsOnNode.getOrDefault(node.getMetadata().getName(), 0))
              .thenComparing(node -> node.getMetadata().getName()))
          .orElse(null);
      if (chosen == null) {
        // The scheduler's FitError: "count reason" strings, sorted as whole strings.
        markPending(pod, "Unschedulable", "0/" + snapshot.nodes().size() + " nodes are available: " + String.join(", ",
            reasons.entrySet().stream().map(e -> e.getValue() + " " + e.getKey()).sorted().toList()) + ".");
        continue;
      }
      String name = chosen.getMetadata().getName();
      add(requested, name, requests(pod));
      podsOnNode.merge(name, 1, Integer::sum);
      pod.getSpec().setNodeName(name);
      placed.add(pod);
      client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
          .edit(p -> {
            p.getSpec().setNodeName(name);
            return p;
          });
    }
  }

  /**
   * Why the pod cannot go to the node, in the scheduler's words, or nothing when it fits; the first
   * filter that fails decides, as in the scheduler, except that every insufficient resource is named.
   */
  static List<String> unfit(Pod pod, Node node, Map<String, BigDecimal> requestedThere) {
    if (node.getSpec() != null && Boolean.TRUE.equals(node.getSpec().getUnschedulable())) {
      return List.of("node(s) were unschedulable");
    }
    List<Taint> taints = node.getSpec() == null || node.getSpec().getTaints() == null ? List.of() : node.getSpec().getTaints();
    for (Taint taint : taints) {
      if ("PreferNoSchedule".equals(taint.getEffect())) {
        continue;
      }
      boolean tolerated = pod.getSpec().getTolerations() != null && pod.getSpec().getTolerations().stream()
          .anyMatch(t -> tolerates(t, taint));
      if (!tolerated) {
        return List.of("node(s) had untolerated taint {" + taint.getKey() + ": " + Objects.toString(taint.getValue(), "")
            + "}");
      }
    }
    Map<String, String> labels = node.getMetadata().getLabels() == null ? Map.of() : node.getMetadata().getLabels();
    Map<String, String> selector = pod.getSpec().getNodeSelector();
    boolean selected = selector == null || selector.entrySet().stream().allMatch(e -> Objects.equals(labels.get(e.getKey()), e.getValue()));
    var affinity = pod.getSpec().getAffinity();
    if (selected && affinity != null && affinity.getNodeAffinity() != null
        && affinity.getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution() != null) {
      List<NodeSelectorTerm> terms = affinity.getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution()
          .getNodeSelectorTerms();
      selected = terms.isEmpty() || terms.stream().anyMatch(term -> matches(term, labels));
    }
    if (!selected) {
      return List.of("node(s) didn't match Pod's node affinity/selector");
    }
    Map<String, Quantity> allocatable = node.getStatus() == null || node.getStatus().getAllocatable() == null ? Map.of()
        : node.getStatus().getAllocatable();
    List<String> insufficient = new ArrayList<>();
    if (requestedThere.getOrDefault(PODS, BigDecimal.ZERO).add(BigDecimal.ONE).compareTo(amount(allocatable, PODS)) > 0) {
      insufficient.add("Too many pods");
    }
    new TreeMap<>(requests(pod)).forEach((resource, wanted) -> {
      BigDecimal free = amount(allocatable, resource).subtract(requestedThere.getOrDefault(resource, BigDecimal.ZERO));
      if (!PODS.equals(resource) && wanted.signum() > 0 && wanted.compareTo(free) > 0) {
        insufficient.add("Insufficient " + resource);
      }
    });
    return insufficient;
  }

  /** The scheduler's toleration rule: the effect (if given) and key (unless Exists without one) match, and the value under Equal. */
  static boolean tolerates(Toleration toleration, Taint taint) {
    if (toleration.getEffect() != null && !toleration.getEffect().isEmpty() && !toleration.getEffect().equals(taint.getEffect())) {
      return false;
    }
    boolean exists = "Exists".equals(toleration.getOperator());
    if (toleration.getKey() == null || toleration.getKey().isEmpty()) {
      return exists;
    }
    return toleration.getKey().equals(taint.getKey())
        && (exists || Objects.equals(Objects.toString(toleration.getValue(), ""), Objects.toString(taint.getValue(), "")));
  }

  /**
   * What the pod requests as the scheduler counts it (upstream's {@code resource.PodRequests}): its
   * containers' requests summed, limits standing for absent requests (the API server's defaulting),
   * init containers as a maximum with restartable sidecars added to both, overhead, and one pod.
   */
  static Map<String, BigDecimal> requests(Pod pod) {
    Map<String, BigDecimal> total = new HashMap<>();
    pod.getSpec().getContainers().forEach(c -> add(total, requests(c)));
    Map<String, BigDecimal> sidecars = new HashMap<>();
    Map<String, BigDecimal> initPeak = new HashMap<>();
    for (var init : pod.getSpec().getInitContainers() == null ? List.<io.fabric8.kubernetes.api.model.Container>of()
        : pod.getSpec().getInitContainers()) {
      Map<String, BigDecimal> own = requests(init);
      if ("Always".equals(init.getRestartPolicy())) {
        add(total, own);
        add(sidecars, own);
        own = sidecars;
      } else {
        own = new HashMap<>(own);
        add(own, sidecars);
      }
      own.forEach((name, amount) -> initPeak.merge(name, amount, BigDecimal::max));
    }
    initPeak.forEach((name, amount) -> total.merge(name, amount, BigDecimal::max));
    if (pod.getSpec().getOverhead() != null) {
      pod.getSpec().getOverhead().forEach((name, amount) -> total.merge(name, amount.getNumericalAmount(), BigDecimal::add));
    }
    total.merge(PODS, BigDecimal.ONE, BigDecimal::add);
    return total;
  }

  private static Map<String, BigDecimal> requests(io.fabric8.kubernetes.api.model.Container container) {
    Map<String, BigDecimal> requested = new HashMap<>();
    var resources = container.getResources();
    if (resources != null && resources.getLimits() != null) {
      resources.getLimits().forEach((name, amount) -> requested.put(name, amount.getNumericalAmount()));
    }
    if (resources != null && resources.getRequests() != null) {
      resources.getRequests().forEach((name, amount) -> requested.put(name, amount.getNumericalAmount()));
    }
    return requested;
  }

  private static void add(Map<String, Map<String, BigDecimal>> byNode, String node, Map<String, BigDecimal> amounts) {
    add(byNode.computeIfAbsent(node, n -> new HashMap<>()), amounts);
  }

  private static void add(Map<String, BigDecimal> into, Map<String, BigDecimal> amounts) {
    amounts.forEach((name, amount) -> into.merge(name, amount, BigDecimal::add));
  }

  private static BigDecimal amount(Map<String, Quantity> amounts, String name) {
    Quantity quantity = amounts.get(name);
    return quantity == null ? BigDecimal.ZERO : quantity.getNumericalAmount();
  }

  /**
   * Required pod affinity with the node as topology: some running pod of the namespace on this node
   * matches each term's selector; or no pod anywhere does yet and the pod matches it itself (the
   * first of a group may go anywhere, as in Kubernetes).
   */
  static boolean podAffinityAllows(Pod pod, String node, List<Pod> placed) {
    var affinity = pod.getSpec().getAffinity();
    if (affinity == null || affinity.getPodAffinity() == null
        || affinity.getPodAffinity().getRequiredDuringSchedulingIgnoredDuringExecution() == null) {
      return true;
    }
    String namespace = pod.getMetadata().getNamespace();
    for (PodAffinityTerm term : affinity.getPodAffinity().getRequiredDuringSchedulingIgnoredDuringExecution()) {
      if (!HOSTNAME.equals(term.getTopologyKey())) {
        return false;  // the local nodes carry no zone or other topology labels
      }
      List<Pod> matching = placed.stream().filter(p -> Objects.equals(p.getMetadata().getNamespace(), namespace))
          .filter(p -> selects(term.getLabelSelector(), p.getMetadata().getLabels())).toList();
      boolean onNode = matching.stream().anyMatch(p -> node.equals(p.getSpec().getNodeName()));
      if (!onNode && !(matching.isEmpty() && selects(term.getLabelSelector(), pod.getMetadata().getLabels()))) {
        return false;
      }
    }
    return true;
  }

  static boolean selects(LabelSelector selector, Map<String, String> labels) {
    Map<String, String> have = labels == null ? Map.of() : labels;
    if (selector == null) {
      return false;
    }
    if (selector.getMatchLabels() != null && selector.getMatchLabels().entrySet().stream()
        .anyMatch(e -> !Objects.equals(have.get(e.getKey()), e.getValue()))) {
      return false;
    }
    for (LabelSelectorRequirement requirement : selector.getMatchExpressions() == null
        ? List.<LabelSelectorRequirement>of() : selector.getMatchExpressions()) {
      if (!satisfies(requirement.getOperator(), have.get(requirement.getKey()), requirement.getValues())) {
        return false;
      }
    }
    return true;
  }

  /** One requirement of a node or label selector on the value of its key (null when absent). */
  private static boolean satisfies(String operator, String value, List<String> values) {
    return switch (operator) {
      case "In" -> value != null && values.contains(value);
      case "NotIn" -> value == null || !values.contains(value);
      case "Exists" -> value != null;
      case "DoesNotExist" -> value == null;
      default -> false;
    };
  }

  private static boolean matches(NodeSelectorTerm term, Map<String, String> labels) {
    if (term.getMatchExpressions() == null) {
      return true;
    }
    for (NodeSelectorRequirement requirement : term.getMatchExpressions()) {
      if (!satisfies(requirement.getOperator(), labels.get(requirement.getKey()), requirement.getValues())) {
        return false;
      }
    }
    return true;
  }

  static int gpus(Pod pod) {
    return requests(pod).getOrDefault(GPU, BigDecimal.ZERO).intValue();
  }

  /** Sets the pod's PodScheduled=False condition to this reason and message, unless it says so already. */
  private void markPending(Pod pod, String reason, String message) {
    boolean marked = pod.getStatus() != null && pod.getStatus().getConditions() != null && pod.getStatus().getConditions()
        .stream().anyMatch(c -> "PodScheduled".equals(c.getType()) && "False".equals(c.getStatus())
            && reason.equals(c.getReason()) && message.equals(c.getMessage()));
    if (marked) {
      return;
    }
    client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName()).editStatus(p -> {
      p.getStatus().getConditions().removeIf(c -> "PodScheduled".equals(c.getType()));
      p.getStatus().getConditions().add(new PodConditionBuilder().withType("PodScheduled").withStatus("False")
          .withReason(reason).withMessage(message).withLastTransitionTime(Instant.now().toString()).build());
      return p;
    });
  }
}
