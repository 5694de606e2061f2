package dev.kiln.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Kubernetes' RBAC authorizer over the Roles, ClusterRoles and their bindings stored in the API
 * server: a request is allowed when some rule bound to the user (cluster-wide through a
 * ClusterRoleBinding, or in the request's namespace through a RoleBinding) matches its verb, API
 * group, resource (or {@code resource/subresource}, {@code *}, {@code *}/{@code subresource}) and name,
 * or its path for a non-resource request; otherwise it is refused with the API server's own
 * message. There is no deny and no wildcard beyond what rules write, as upstream.
 */
final class RbacAuthorizer {

  /** An authenticated caller: a service account is {@code system:serviceaccount:NAMESPACE:NAME}. */
  record User(String name, List<String> groups) {

    static User serviceAccount(String namespace, String name) {
      return new User("system:serviceaccount:" + namespace + ":" + name,
          List.of("system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"));
    }
  }

  private static final String RBAC = "/apis/rbac.authorization.k8s.io/v1";

  /** Reads the items of a collection path from the store. */
  private final Function<String, List<JsonNode>> items;

  RbacAuthorizer(Function<String, List<JsonNode>> items) {
    this.items = items;
  }

  /** Why the request is refused, in the API server's words; empty when a rule allows it. */
  Optional<String> forbidden(User user, ApiRequest request) {
    for (JsonNode rule : rules(user, request.namespace())) {
      if (request.resourceRequest() ? allows(rule, request) : allowsPath(rule, request)) {
        return Optional.empty();
      }
    }
    return Optional.of(message(user, request));
  }

  /** Every rule bound to {@code user} that applies in {@code namespace} (cluster-wide ones only when it is empty). */
  List<JsonNode> rules(User user, String namespace) {
    List<JsonNode> rules = new ArrayList<>();
    for (JsonNode binding : items.apply(RBAC + "/clusterrolebindings")) {
      if (bound(binding, user, "")) {
        rulesOf(binding.path("roleRef"), "").forEach(rules::add);
      }
    }
    if (!namespace.isEmpty()) {
      for (JsonNode binding : items.apply(RBAC + "/namespaces/" + namespace + "/rolebindings")) {
        if (bound(binding, user, namespace)) {
          rulesOf(binding.path("roleRef"), namespace).forEach(rules::add);
        }
      }
    }
    return rules;
  }

  private JsonNode rulesOf(JsonNode roleRef, String namespace) {
    String name = roleRef.path("name").asText();
    String path = "ClusterRole".equals(roleRef.path("kind").asText()) ? RBAC + "/clusterroles"
        : RBAC + "/namespaces/" + namespace + "/roles";
    for (JsonNode role : items.apply(path)) {
      if (name.equals(role.path("metadata").path("name").asText())) {
        return role.path("rules");
      }
    }
    return MissingNode.getInstance();  // a binding to a missing role grants nothing
  }

  private static boolean bound(JsonNode binding, User user, String bindingNamespace) {
    for (JsonNode subject : binding.path("subjects")) {
      String name = subject.path("name").asText();
      boolean matches = switch (subject.path("kind").asText()) {
        case "ServiceAccount" -> {
          String namespace = subject.path("namespace").asText(bindingNamespace);
          yield user.name().equals("system:serviceaccount:" + namespace + ":" + name);
        }
        case "User" -> user.name().equals(name);
        case "Group" -> user.groups().contains(name);
        default -> false;
      };
      if (matches) {
        return true;
      }
    }
    return false;
  }

  private static boolean allows(JsonNode rule, ApiRequest request) {
    return contains(rule.path("verbs"), request.verb())
        && contains(rule.path("apiGroups"), request.apiGroup())
        && resourceMatches(rule.path("resources"), request)
        && (rule.path("resourceNames").isEmpty() || has(rule.path("resourceNames"), request.name()));
  }

  private static boolean resourceMatches(JsonNode resources, ApiRequest request) {
    for (JsonNode resource : resources) {
      String granted = resource.asText();
      if (granted.equals("*") || granted.equals(request.qualifiedResource())
          || (!request.subresource().isEmpty() && granted.equals("*/" + request.subresource()))) {
        return true;
      }
    }
    return false;
  }

  private static boolean allowsPath(JsonNode rule, ApiRequest request) {
    if (!contains(rule.path("verbs"), request.verb())) {
      return false;
    }
    for (JsonNode url : rule.path("nonResourceURLs")) {
      String granted = url.asText();
      if (granted.equals("*") || granted.equals(request.path())
          || (granted.endsWith("*") && request.path().startsWith(granted.substring(0, granted.length() - 1)))) {
        return true;
      }
    }
    return false;
  }

  private static boolean contains(JsonNode values, String wanted) {
    return has(values, "*") || has(values, wanted);
  }

  private static boolean has(JsonNode values, String wanted) {
    for (JsonNode value : values) {
      if (value.asText().equals(wanted)) {
        return true;
      }
    }
    return false;
  }

  /** The API server's message for a refused request (its forbiddenMessage and NewForbidden). */
  private static String message(User user, ApiRequest request) {
    if (!request.resourceRequest()) {
      return "forbidden: User \"" + user.name() + "\" cannot " + request.verb() + " path \"" + request.path() + "\"";
    }
    String where = request.namespace().isEmpty() ? "at the cluster scope"
        : "in the namespace \"" + request.namespace() + "\"";
    String qualified = request.apiGroup().isEmpty() ? request.resource() : request.resource() + "." + request.apiGroup();
    String subject = request.name().isEmpty() ? qualified : qualified + " \"" + request.name() + "\"";
    return subject + " is forbidden: User \"" + user.name() + "\" cannot " + request.verb() + " resource \""
        + request.qualifiedResource() + "\" in API group \"" + request.apiGroup() + "\" " + where;
  }
}
