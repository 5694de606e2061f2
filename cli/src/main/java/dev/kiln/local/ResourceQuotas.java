package dev.kiln.local;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Quantity;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The API server's ResourceQuota admission for pods, as Kiln's pods meet it: a namespace's quotas
 * on {@code pods}, {@code requests.*} / {@code limits.*} (and the bare {@code cpu} and
 * {@code memory}, which mean requests) count the pods that have not finished; a pod that would go
 * over, or that leaves a constrained resource unset, is refused before it exists.
 */
final class ResourceQuotas {

  private static final Set<String> COMPUTE = Set.of("cpu", "memory");

  private ResourceQuotas() {}

  /** Why the API server refuses to create {@code pod}, or empty when every quota lets it in. */
  static Optional<String> refusal(JsonNode pod, List<JsonNode> quotas, List<JsonNode> existingPods) {
    String name = pod.path("metadata").path("name").asText();
    for (JsonNode quota : quotas) {
      String quotaName = quota.path("metadata").path("name").asText();
      Map<String, BigDecimal> hard = new TreeMap<>();
      quota.path("spec").path("hard").properties().forEach(e -> hard.put(canonical(e.getKey()),
          new Quantity(e.getValue().asText()).getNumericalAmount()));
      List<String> unset = new ArrayList<>();
      for (String key : hard.keySet()) {
        String resource = key.substring(key.indexOf('.') + 1);
        if (!"pods".equals(key) && COMPUTE.contains(resource)) {
          for (JsonNode container : pod.path("spec").path("containers")) {
            if (amount(container, key) == null) {
              unset.add(key + " for: " + container.path("name").asText());
            }
          }
        }
      }
      if (!unset.isEmpty()) {
        return Optional.of("pods \"" + name + "\" is forbidden: failed quota: " + quotaName + ": must specify "
            + String.join("; ", unset));
      }
      List<String> requested = new ArrayList<>();
      List<String> used = new ArrayList<>();
      List<String> limited = new ArrayList<>();
      for (var limit : hard.entrySet()) {
        BigDecimal want = usage(pod, limit.getKey());
        BigDecimal inUse = BigDecimal.ZERO;
        for (JsonNode other : existingPods) {
          if (!finished(other)) {
            inUse = inUse.add(usage(other, limit.getKey()));
          }
        }
        if (want.signum() > 0 && inUse.add(want).compareTo(limit.getValue()) > 0) {
          requested.add(limit.getKey() + "=" + want.stripTrailingZeros().toPlainString());
          used.add(limit.getKey() + "=" + inUse.stripTrailingZeros().toPlainString());
          limited.add(limit.getKey() + "=" + limit.getValue().stripTrailingZeros().toPlainString());
        }
      }
      if (!requested.isEmpty()) {
        return Optional.of("pods \"" + name + "\" is forbidden: exceeded quota: " + quotaName + ", requested: "
            + String.join(",", requested) + ", used: " + String.join(",", used) + ", limited: " + String.join(",", limited));
      }
    }
    return Optional.empty();
  }

  /** {@code cpu} and {@code memory} in a quota mean their requests. */
  private static String canonical(String key) {
    return COMPUTE.contains(key) ? "requests." + key : key;
  }

  private static BigDecimal usage(JsonNode pod, String key) {
    if ("pods".equals(key)) {
      return BigDecimal.ONE;
    }
    BigDecimal total = BigDecimal.ZERO;
    for (JsonNode container : pod.path("spec").path("containers")) {
      BigDecimal amount = amount(container, key);
      total = amount == null ? total : total.add(amount);
    }
    return total;
  }

  /** A container's request or limit; a request left unset takes the limit, as the API server defaults it. */
  private static BigDecimal amount(JsonNode container, String key) {
    int dot = key.indexOf('.');
    if (dot < 0) {
      return null;
    }
    String kind = key.substring(0, dot);
    String resource = key.substring(dot + 1);
    JsonNode resources = container.path("resources");
    JsonNode value = resources.path(kind).path(resource);
    if (value.isMissingNode() && "requests".equals(kind)) {
      value = resources.path("limits").path(resource);
    }
    return value.isMissingNode() || value.isNull() ? null : new Quantity(value.asText()).getNumericalAmount();
  }

  private static boolean finished(JsonNode pod) {
    String phase = pod.path("status").path("phase").asText("");
    return "Succeeded".equals(phase) || "Failed".equals(phase);
  }
}
