package dev.kiln.chart;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.gson.JsonParser;
import dev.kiln.api.validation.CrdSchema;
import dev.kiln.api.validation.Violation;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Validates rendered objects against the schemas the API server would apply: Kubernetes' own kinds
 * against the models generated from its OpenAPI spec (Kubernetes' Java client, which rejects
 * unknown fields, missing required fields and wrong shapes), Kiln's kinds against their CRD.
 */
final class KubernetesSchemas {

  /** Kinds from Kubernetes' API groups at v1, by group: the generated model is {@code V1<Kind>}. */
  private static final Map<String, String> GROUPS_AT_V1 = Map.of(
      "v1", "", "apps/v1", "apps", "rbac.authorization.k8s.io/v1", "rbac",
      "apiextensions.k8s.io/v1", "apiextensions", "batch/v1", "batch", "coordination.k8s.io/v1", "coordination");

  private KubernetesSchemas() {}

  /** What is wrong with the object; empty when the API server's schema accepts it. */
  static Optional<String> problem(JsonNode object) {
    String apiVersion = object.path("apiVersion").asText();
    String kind = object.path("kind").asText();
    if (apiVersion.equals("kiln.dev/v1alpha1") && kind.equals("TrainingQueue")) {
      List<Violation> violations = CrdSchema.fromResource(dev.kiln.api.Crds.QUEUES).validate(object);
      return violations.isEmpty() ? Optional.empty() : Optional.of(violations.toString());
    }
    if (!GROUPS_AT_V1.containsKey(apiVersion)) {
      return Optional.of("no schema known for " + apiVersion + " " + kind);
    }
    try {
      Class<?> model = Class.forName("io.kubernetes.client.openapi.models.V1" + kind);
      Method validate = model.getMethod("validateJsonElement", com.google.gson.JsonElement.class);
      validate.invoke(null, JsonParser.parseString(object.toString()));
      return Optional.empty();
    } catch (ClassNotFoundException | NoSuchMethodException e) {
      return Optional.of("no schema for " + apiVersion + " " + kind);
    } catch (InvocationTargetException e) {
      return Optional.of(kind + " " + object.at("/metadata/name").asText() + ": " + e.getCause().getMessage());
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
  }
}
