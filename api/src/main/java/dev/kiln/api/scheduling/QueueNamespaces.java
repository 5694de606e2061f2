package dev.kiln.api.scheduling;

import dev.kiln.api.v1alpha1.TrainingQueueSpec;
import io.fabric8.kubernetes.api.model.LabelSelector;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Which namespaces may use a TrainingQueue: its {@code namespaceSelector} evaluated as Kubernetes
 * evaluates a label selector, the namespace's own name label included. The operator refuses jobs
 * by it, and {@code kiln validate} where the namespace's name decides.
 */
public final class QueueNamespaces {

  private QueueNamespaces() {}

  /** The label every namespace carries with its own name (set by the API server). */
  public static final String NAME_LABEL = "kubernetes.io/metadata.name";

  /**
   * Whether jobs of the namespace {@code name}, labelled {@code labels}, may use the queue: the
   * selector's matchLabels and matchExpressions all hold (the namespace's own name label counts).
   */
  public static boolean admits(TrainingQueueSpec queue, String name, Map<String, String> labels) {
    LabelSelector namespaceSelector = queue.namespaceSelector();
    if (namespaceSelector == null) {
      return true;
    }
    Map<String, String> all = new HashMap<>(labels == null ? Map.of() : labels);
    all.putIfAbsent(NAME_LABEL, name);
    return LabelSelectors.matches(namespaceSelector, all);
  }

  /** Which labels the selector reads, beyond a namespace's name: what a check without the namespace's labels cannot decide. */
  public static Set<String> labelsRead(TrainingQueueSpec queue) {
    LabelSelector namespaceSelector = queue.namespaceSelector();
    Set<String> keys = new TreeSet<>();
    if (namespaceSelector != null) {
      if (namespaceSelector.getMatchLabels() != null) {
        keys.addAll(namespaceSelector.getMatchLabels().keySet());
      }
      if (namespaceSelector.getMatchExpressions() != null) {
        namespaceSelector.getMatchExpressions().forEach(r -> keys.add(r.getKey()));
      }
    }
    keys.remove(NAME_LABEL);
    return keys;
  }

  /** "team in (vision), kubernetes.io/metadata.name=research": the selector as kubectl writes one. */
  public static String describe(TrainingQueueSpec queue) {
    LabelSelector namespaceSelector = queue.namespaceSelector();
    if (namespaceSelector == null) {
      return "";
    }
    List<String> terms = new ArrayList<>();
    if (namespaceSelector.getMatchLabels() != null) {
      new TreeMap<>(namespaceSelector.getMatchLabels()).forEach((k, v) -> terms.add(k + "=" + v));
    }
    if (namespaceSelector.getMatchExpressions() != null) {
      namespaceSelector.getMatchExpressions().forEach(r -> terms.add(switch (r.getOperator()) {
        case "Exists" -> r.getKey();
        case "DoesNotExist" -> "!" + r.getKey();
        default -> r.getKey() + " " + r.getOperator().toLowerCase(Locale.ROOT) + " ("
            + String.join(",", r.getValues()) + ")";
      }));
    }
    return String.join(", ", terms);
  }
}
