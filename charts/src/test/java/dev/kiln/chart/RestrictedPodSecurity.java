package dev.kiln.chart;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The Pod Security Standards' {@code restricted} profile (which includes {@code baseline}), checked
 * on a pod spec the way the PodSecurity admission plugin checks it: what it would refuse.
 */
final class RestrictedPodSecurity {

  private static final Set<String> VOLUME_TYPES = Set.of("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
      "persistentVolumeClaim", "projected", "secret");

  private RestrictedPodSecurity() {}

  static List<String> violations(JsonNode pod) {
    List<String> found = new ArrayList<>();
    for (String host : List.of("hostNetwork", "hostPID", "hostIPC")) {
      if (pod.path(host).asBoolean(false)) {
        found.add(host + " is true");
      }
    }
    for (JsonNode volume : pod.path("volumes")) {
      volume.fieldNames().forEachRemaining(field -> {
        if (!field.equals("name") && !VOLUME_TYPES.contains(field)) {
          found.add("volume " + volume.path("name").asText() + " is of type " + field);
        }
      });
    }
    JsonNode podContext = pod.path("securityContext");
    List<JsonNode> containers = new ArrayList<>();
    pod.path("initContainers").forEach(containers::add);
    pod.path("containers").forEach(containers::add);
    if (containers.isEmpty()) {
      found.add("no containers");
    }
    if (podContext.path("runAsUser").asLong(-1) == 0) {
      found.add("pod runAsUser is 0");
    }
    for (JsonNode container : containers) {
      String name = "container " + container.path("name").asText();
      JsonNode context = container.path("securityContext");
      if (context.path("privileged").asBoolean(false)) {
        found.add(name + " is privileged");
      }
      if (!context.path("allowPrivilegeEscalation").isBoolean() || context.path("allowPrivilegeEscalation").asBoolean()) {
        found.add(name + ": allowPrivilegeEscalation must be false");
      }
      if (!effective(context, podContext, "runAsNonRoot").asBoolean(false)) {
        found.add(name + ": runAsNonRoot must be true");
      }
      if (context.path("runAsUser").asLong(-1) == 0) {
        found.add(name + ": runAsUser is 0");
      }
      String seccomp = effective(context, podContext, "seccompProfile").path("type").asText();
      if (!seccomp.equals("RuntimeDefault") && !seccomp.equals("Localhost")) {
        found.add(name + ": seccompProfile.type must be RuntimeDefault or Localhost, is '" + seccomp + "'");
      }
      JsonNode capabilities = context.path("capabilities");
      boolean dropsAll = false;
      for (JsonNode dropped : capabilities.path("drop")) {
        dropsAll |= dropped.asText().equals("ALL");
      }
      if (!dropsAll) {
        found.add(name + ": capabilities.drop must include ALL");
      }
      for (JsonNode added : capabilities.path("add")) {
        if (!added.asText().equals("NET_BIND_SERVICE")) {
          found.add(name + ": adds capability " + added.asText());
        }
      }
      for (JsonNode port : container.path("ports")) {
        if (port.path("hostPort").asInt(0) != 0) {
          found.add(name + ": hostPort " + port.path("hostPort").asInt());
        }
      }
    }
    return found;
  }

  private static JsonNode effective(JsonNode container, JsonNode pod, String field) {
    return container.has(field) ? container.path(field) : pod.path(field);
  }
}
