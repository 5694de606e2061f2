package dev.kiln.local;

import dev.kiln.api.scheduling.LabelSelectors;
import dev.kiln.api.scheduling.ResourceList;
import dev.kiln.api.scheduling.Tolerations;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.NodeSelectorTerm;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodAffinityTerm;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.client.KubernetesClient;
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
    Map<String, ResourceList> requested = new HashMap<>();
    Map<String, Integer> podsOnNode = new HashMap<>();
    // Pods bound in this pass count for the ones after them, as the scheduler's cache assumes them.
    List<Pod> placed = new ArrayList<>();
    for (Pod pod : snapshot.pods()) {
      if (pod.getSpec().getNodeName() != null && !JobController.terminal(pod)) {
        requested.merge(pod.getSpec().getNodeName(), ResourceList.requestedBy(pod), ResourceList::plus);
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
        List<String> unfit = unfit(pod, node, requested.getOrDefault(name, ResourceList.NONE));
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
      requested.merge(name, ResourceList.requestedBy(pod), ResourceList::plus);
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
  static List<String> unfit(Pod pod, Node node, ResourceList requestedThere) {
    if (node.getSpec() != null && Boolean.TRUE.equals(node.getSpec().getUnschedulable())) {
      return List.of("node(s) were unschedulable");
    }
    List<Taint> taints = node.getSpec() == null || node.getSpec().getTaints() == null ? List.of() : node.getSpec().getTaints();
    for (Taint taint : taints) {
      if ("PreferNoSchedule".equals(taint.getEffect())) {
        continue;
      }
      boolean tolerated = pod.getSpec().getTolerations() != null && pod.getSpec().getTolerations().stream()
          .anyMatch(t -> Tolerations.tolerates(t, taint));
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
    // NodeResourcesFit: what upstream's PodRequests counts (ResourceList, as admission counts it) against
    // allocatable minus what the node's pods request.
    ResourceList free = ResourceList.of(node.getStatus() == null ? null : node.getStatus().getAllocatable())
        .minus(requestedThere);
    List<String> insufficient = new ArrayList<>();
    if (free.get(ResourceList.PODS) < 1000) {
      insufficient.add("Too many pods");
    }
    new TreeMap<>(ResourceList.requestedBy(pod).milli()).forEach((resource, wanted) -> {
      if (!ResourceList.PODS.equals(resource) && wanted > 0 && wanted > free.get(resource)) {
        insufficient.add("Insufficient " + resource);
      }
    });
    return insufficient;
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

  /** A pod affinity term's selector: a null one selects nothing. */
  static boolean selects(LabelSelector selector, Map<String, String> labels) {
    return selector != null && LabelSelectors.matches(selector, labels);
  }

  private static boolean matches(NodeSelectorTerm term, Map<String, String> labels) {
    if (term.getMatchExpressions() == null) {
      return true;
    }
    for (NodeSelectorRequirement requirement : term.getMatchExpressions()) {
      if (!LabelSelectors.satisfies(requirement.getOperator(), labels.get(requirement.getKey()), requirement.getValues())) {
        return false;
      }
    }
    return true;
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
