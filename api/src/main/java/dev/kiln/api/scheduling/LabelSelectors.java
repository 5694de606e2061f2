package dev.kiln.api.scheduling;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/** Kubernetes label selectors as the API server evaluates them: for queues' namespaces and the local scheduler. */
public final class LabelSelectors {

  private LabelSelectors() {}

  /** Every matchLabels entry and every matchExpressions requirement holds for {@code labels} (the empty selector: all). */
  public static boolean matches(LabelSelector selector, Map<String, String> labels) {
    Map<String, String> have = labels == null ? Map.of() : labels;
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

  /** One requirement of a label or node selector on the value of its key (null when absent). */
  public static boolean satisfies(String operator, String value, List<String> values) {
    return switch (operator) {
      case "In" -> value != null && values.contains(value);
      case "NotIn" -> value == null || !values.contains(value);
      case "Exists" -> value != null;
      case "DoesNotExist" -> value == null;
      default -> false;
    };
  }
}
