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
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Binds pending pods to the local nodes as the scheduler would for Kiln's pods: node selector,
 * required node affinity, required pod affinity on the node ({@code kubernetes.io/hostname}),
 * taints and tolerations, and {@code nvidia.com/gpu} counted against each node's allocatable;
 * among the nodes that fit, the one running the fewest pods (the default scheduler spreads too).
 * CPU and memory are not counted: every pod shares this one machine.
 */
final class Scheduler {

  static final String GPU = "nvidia.com/gpu";
  static final String HOSTNAME = "kubernetes.io/hostname";

  private final KubernetesClient client;

  Scheduler(KubernetesClient client) {
    this.client = client;
  }

  void sync(Snapshot snapshot) {
    Map<String, Integer> gpusInUse = new HashMap<>();
    Map<String, Integer> podsOnNode = new HashMap<>();
    // Pods bound in this pass count for the ones after them, as the scheduler's cache assumes them.
    List<Pod> placed = new ArrayList<>();
    for (Pod pod : snapshot.pods()) {
      if (pod.getSpec().getNodeName() != null && !JobController.terminal(pod)) {
        gpusInUse.merge(pod.getSpec().getNodeName(), gpus(pod), Integer::sum);
        podsOnNode.merge(pod.getSpec().getNodeName(), 1, Integer::sum);
        placed.add(pod);
      }
    }
    for (Pod pod : snapshot.pods()) {
      if (pod.getSpec().getNodeName() != null || JobController.terminal(pod) || JobController.deleting(pod)) {
        continue;
      }
      Node chosen = snapshot.nodes().stream()
          .filter(node -> fits(pod, node, gpusInUse.getOrDefault(node.getMetadata().getName(), 0)))
          .filter(node -> podAffinityAllows(pod, node.getMetadata().getName(), placed))
          .min(Comparator.comparing((Node node) -> podsOnNode.getOrDefault(node.getMetadata().getName(), 0))
              .thenComparing(node -> node.getMetadata().getName()))
          .orElse(null);
      if (chosen == null) {
        markUnschedulable(pod, snapshot.nodes().size());
        continue;
      }
      gpusInUse.merge(chosen.getMetadata().getName(), gpus(pod), Integer::sum);
      podsOnNode.merge(chosen.getMetadata().getName(), 1, Integer::sum);
      pod.getSpec().setNodeName(chosen.getMetadata().getName());
      placed.add(pod);
      client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
          .edit(p -> {
            p.getSpec().setNodeName(chosen.getMetadata().getName());
            return p;
          });
    }
  }

  static boolean fits(Pod pod, Node node, int gpusInUse) {
    Map<String, String> labels = node.getMetadata().getLabels() == null ? Map.of() : node.getMetadata().getLabels();
    Map<String, String> selector = pod.getSpec().getNodeSelector();
    if (selector != null && selector.entrySet().stream().anyMatch(e -> !Objects.equals(labels.get(e.getKey()), e.getValue()))) {
      return false;
    }
    var affinity = pod.getSpec().getAffinity();
    if (affinity != null && affinity.getNodeAffinity() != null
        && affinity.getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution() != null) {
      List<NodeSelectorTerm> terms = affinity.getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution()
          .getNodeSelectorTerms();
      if (!terms.isEmpty() && terms.stream().noneMatch(term -> matches(term, labels))) {
        return false;
      }
    }
    List<Taint> taints = node.getSpec() == null || node.getSpec().getTaints() == null ? List.of() : node.getSpec().getTaints();
    for (Taint taint : taints) {
      boolean tolerated = pod.getSpec().getTolerations() != null && pod.getSpec().getTolerations().stream()
          .anyMatch(t -> Objects.equals(t.getKey(), taint.getKey())
              && ("Exists".equals(t.getOperator()) || Objects.equals(t.getValue(), taint.getValue()))
              && (t.getEffect() == null || t.getEffect().equals(taint.getEffect())));
      if (!tolerated) {
        return false;
      }
    }
    Quantity allocatable = node.getStatus() == null || node.getStatus().getAllocatable() == null ? null
        : node.getStatus().getAllocatable().get(GPU);
    int available = allocatable == null ? 0 : allocatable.getNumericalAmount().intValue();
    return gpus(pod) <= available - gpusInUse;
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
    int total = 0;
    for (var container : pod.getSpec().getContainers()) {
      var resources = container.getResources();
      Quantity limit = resources == null || resources.getLimits() == null ? null : resources.getLimits().get(GPU);
      total += limit == null ? 0 : limit.getNumericalAmount().intValue();
    }
    return total;
  }

  private void markUnschedulable(Pod pod, int nodes) {
    boolean marked = pod.getStatus() != null && pod.getStatus().getConditions() != null && pod.getStatus().getConditions()
        .stream().anyMatch(c -> "PodScheduled".equals(c.getType()) && "False".equals(c.getStatus()));
    if (marked) {
      return;
    }
    String message = "0/" + nodes + " nodes are available: none matches the pod's node affinity, tolerations and "
        + gpus(pod) + " " + GPU;
    client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName()).editStatus(p -> {
      p.getStatus().getConditions().add(new PodConditionBuilder().withType("PodScheduled").withStatus("False")
          .withReason("Unschedulable").withMessage(message).withLastTransitionTime(Instant.now().toString()).build());
      return p;
    });
  }
}
