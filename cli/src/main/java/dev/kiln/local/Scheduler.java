package dev.kiln.local;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.NodeSelectorTerm;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Binds pending pods to the local nodes as the scheduler would for Kiln's pods: node selector,
 * required node affinity, taints and tolerations, and {@code nvidia.com/gpu} counted against
 * each node's allocatable. CPU and memory are not counted: every pod shares this one machine.
 */
final class Scheduler {

  static final String GPU = "nvidia.com/gpu";

  private final KubernetesClient client;

  Scheduler(KubernetesClient client) {
    this.client = client;
  }

  void sync(Snapshot snapshot) {
    Map<String, Integer> gpusInUse = new HashMap<>();
    for (Pod pod : snapshot.pods()) {
      if (pod.getSpec().getNodeName() != null && !JobController.terminal(pod)) {
        gpusInUse.merge(pod.getSpec().getNodeName(), gpus(pod), Integer::sum);
      }
    }
    for (Pod pod : snapshot.pods()) {
      if (pod.getSpec().getNodeName() != null || JobController.terminal(pod)) {
        continue;
      }
      Node chosen = snapshot.nodes().stream()
          .filter(node -> fits(pod, node, gpusInUse.getOrDefault(node.getMetadata().getName(), 0)))
          .findFirst().orElse(null);
      if (chosen == null) {
        markUnschedulable(pod, snapshot.nodes().size());
        continue;
      }
      gpusInUse.merge(chosen.getMetadata().getName(), gpus(pod), Integer::sum);
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

  private static boolean matches(NodeSelectorTerm term, Map<String, String> labels) {
    if (term.getMatchExpressions() == null) {
      return true;
    }
    for (NodeSelectorRequirement requirement : term.getMatchExpressions()) {
      String value = labels.get(requirement.getKey());
      boolean ok = switch (requirement.getOperator()) {
        case "In" -> value != null && requirement.getValues().contains(value);
        case "NotIn" -> value == null || !requirement.getValues().contains(value);
        case "Exists" -> value != null;
        case "DoesNotExist" -> value == null;
        default -> false;
      };
      if (!ok) {
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
