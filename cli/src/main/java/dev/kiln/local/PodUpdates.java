package dev.kiln.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What the API server lets an update change in a pod's spec (its {@code ValidatePodUpdate}):
 * container images, {@code activeDeadlineSeconds}, tolerations added, scheduling gates removed
 * (never added); and, while the pod is still gated, its node selector added to and its required
 * node affinity narrowed (the mutable scheduling directives of Kubernetes 1.27). Anything else is
 * refused with 422 Invalid. The node a pod is bound to is set by the scheduler's binding, which the
 * local scheduler does as the administrator.
 */
final class PodUpdates {

  private PodUpdates() {}

  /** Why the update from {@code old} to {@code updated} is invalid, in the API server's words; empty when it is allowed. */
  static Optional<String> refusal(JsonNode old, JsonNode updated, boolean binder) {
    JsonNode oldSpec = old.path("spec");
    JsonNode newSpec = updated.path("spec");
    if (!(oldSpec instanceof ObjectNode) || !(newSpec instanceof ObjectNode)) {
      return Optional.empty();
    }
    String name = old.path("metadata").path("name").asText("");
    String prefix = "Pod \"" + name + "\" is invalid: ";
    Set<String> oldGates = names(oldSpec.path("schedulingGates"));
    for (String gate : names(newSpec.path("schedulingGates"))) {
      if (!oldGates.contains(gate)) {
        return Optional.of(prefix + "spec.schedulingGates: Forbidden: only deletion is allowed, but found new scheduling gate '"
            + gate + "'");
      }
    }
    boolean gated = !oldGates.isEmpty();
    ObjectNode allowed = (ObjectNode) oldSpec.deepCopy();
    copy(newSpec, allowed, "activeDeadlineSeconds");
    copy(newSpec, allowed, "schedulingGates");
    for (String containers : new String[] {"containers", "initContainers"}) {
      JsonNode from = newSpec.path(containers);
      JsonNode to = allowed.path(containers);
      if (from.isArray() && to.isArray() && from.size() == to.size()) {
        for (int i = 0; i < from.size(); i++) {
          copy(from.get(i), (ObjectNode) to.get(i), "image");
        }
      }
    }
    if (startsWith(newSpec.path("tolerations"), oldSpec.path("tolerations"))) {
      copy(newSpec, allowed, "tolerations");
    }
    if (binder && oldSpec.path("nodeName").asText("").isEmpty()) {
      copy(newSpec, allowed, "nodeName");
    }
    if (gated) {
      if (!adds(oldSpec.path("nodeSelector"), newSpec.path("nodeSelector"))) {
        return Optional.of(prefix + "spec.nodeSelector: Invalid value: " + newSpec.path("nodeSelector")
            + ": only additions to spec.nodeSelector are allowed (no mutations or deletions)");
      }
      copy(newSpec, allowed, "nodeSelector");
      JsonNode oldRequired = oldSpec.at("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution");
      JsonNode newRequired = newSpec.at("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution");
      if (!oldRequired.isMissingNode() && !narrows(oldRequired, newRequired)) {
        return Optional.of(prefix + "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution: Invalid"
            + " value: only additions to the terms' matchExpressions and matchFields are allowed");
      }
      copy(newSpec, allowed, "affinity");
    }
    if (allowed.equals(newSpec)) {
      return Optional.empty();
    }
    return Optional.of(prefix + "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        + "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing"
        + " tolerations),`spec.schedulingGates` (only removals), and while gated `spec.nodeSelector` (only additions) and"
        + " `spec.affinity.nodeAffinity` (only narrowing)");
  }

  private static void copy(JsonNode from, ObjectNode to, String field) {
    if (from.has(field)) {
      to.set(field, from.get(field));
    } else {
      to.remove(field);
    }
  }

  private static Set<String> names(JsonNode gates) {
    Set<String> names = new HashSet<>();
    gates.forEach(g -> names.add(g.path("name").asText("")));
    return names;
  }

  /** Every entry of {@code old} is in {@code updated} unchanged. */
  private static boolean adds(JsonNode old, JsonNode updated) {
    Iterator<Map.Entry<String, JsonNode>> entries = old.properties().iterator();
    while (entries.hasNext()) {
      Map.Entry<String, JsonNode> entry = entries.next();
      if (!entry.getValue().equals(updated.path(entry.getKey()))) {
        return false;
      }
    }
    return true;
  }

  private static boolean startsWith(JsonNode list, JsonNode prefix) {
    if (prefix.isMissingNode() || prefix.isNull()) {
      return true;
    }
    if (!list.isArray() || list.size() < prefix.size()) {
      return false;
    }
    for (int i = 0; i < prefix.size(); i++) {
      if (!list.get(i).equals(prefix.get(i))) {
        return false;
      }
    }
    return true;
  }

  /** The same terms, each keeping its requirements in order and possibly gaining more. */
  private static boolean narrows(JsonNode old, JsonNode updated) {
    JsonNode oldTerms = old.path("nodeSelectorTerms");
    JsonNode newTerms = updated.path("nodeSelectorTerms");
    if (!(oldTerms instanceof ArrayNode) || !(newTerms instanceof ArrayNode) || oldTerms.size() != newTerms.size()) {
      return oldTerms.equals(newTerms);
    }
    for (int i = 0; i < oldTerms.size(); i++) {
      if (!startsWith(newTerms.get(i).path("matchExpressions"), oldTerms.get(i).path("matchExpressions"))
          || !startsWith(newTerms.get(i).path("matchFields"), oldTerms.get(i).path("matchFields"))) {
        return false;
      }
    }
    return true;
  }
}
