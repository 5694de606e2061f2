package dev.kiln.local;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What an HTTP request to the API server asks, in the terms authorization decides on: verb, API
 * group, resource, subresource, namespace and name, read from the path and method the way the
 * API server's request-info resolver does (a GET without a name is a list, or a watch when
 * {@code watch=true}; a DELETE without one is a deletecollection; {@code status} and
 * {@code finalize} of a namespace are its subresources). A request outside {@code /api} and
 * {@code /apis/GROUP/VERSION} is a non-resource request for its path.
 */
record ApiRequest(String verb, boolean resourceRequest, String apiGroup, String resource, String subresource,
    String namespace, String name, String path) {

  private static final Set<String> NAMESPACE_SUBRESOURCES = Set.of("status", "finalize");

  static ApiRequest of(String method, String pathAndQuery) {
    int question = pathAndQuery.indexOf('?');
    String path = question < 0 ? pathAndQuery : pathAndQuery.substring(0, question);
    Map<String, String> query = query(pathAndQuery);
    String httpVerb = switch (method) {
      case "POST" -> "create";
      case "PUT" -> "update";
      case "PATCH" -> "patch";
      case "DELETE" -> "delete";
      default -> "get";
    };
    List<String> parts = Arrays.stream(path.split("/")).filter(p -> !p.isEmpty()).toList();
    String group;
    if (parts.size() >= 2 && parts.getFirst().equals("api")) {
      group = "";
      parts = parts.subList(2, parts.size());
    } else if (parts.size() >= 3 && parts.getFirst().equals("apis")) {
      group = parts.get(1);
      parts = parts.subList(3, parts.size());
    } else {
      return new ApiRequest(httpVerb, false, "", "", "", "", "", path);
    }
    if (parts.isEmpty()) {
      return new ApiRequest(httpVerb, false, "", "", "", "", "", path);  // discovery of a group version
    }
    String namespace = "";
    if (parts.getFirst().equals("namespaces") && parts.size() > 1) {
      namespace = parts.get(1);
      if (parts.size() > 2 && !NAMESPACE_SUBRESOURCES.contains(parts.get(2))) {
        parts = parts.subList(2, parts.size());
      }
    }
    String resource = parts.getFirst();
    String name = parts.size() >= 2 ? parts.get(1) : "";
    String subresource = parts.size() >= 3 ? parts.get(2) : "";
    String verb = httpVerb;
    if (name.isEmpty()) {
      boolean watch = "true".equals(query.get("watch")) || "1".equals(query.get("watch"));
      verb = switch (httpVerb) {
        case "get" -> watch ? "watch" : "list";
        case "delete" -> "deletecollection";
        default -> httpVerb;
      };
    }
    return new ApiRequest(verb, true, group, resource, subresource, namespace, name, path);
  }

  /** The resource as RBAC rules name it: {@code jobs}, or {@code multimodalpretrainjobs/status}. */
  String qualifiedResource() {
    return subresource.isEmpty() ? resource : resource + "/" + subresource;
  }

  /** The decoded query parameters of a request's path ({@code watch}, {@code fieldSelector}, ...). */
  static Map<String, String> query(String pathAndQuery) {
    int question = pathAndQuery.indexOf('?');
    if (question < 0) {
      return Map.of();
    }
    Map<String, String> parameters = new HashMap<>();
    for (String pair : pathAndQuery.substring(question + 1).split("&")) {
      int equals = pair.indexOf('=');
      String key = equals < 0 ? pair : pair.substring(0, equals);
      String value = equals < 0 ? "" : pair.substring(equals + 1);
      parameters.put(URLDecoder.decode(key, StandardCharsets.UTF_8), URLDecoder.decode(value, StandardCharsets.UTF_8));
    }
    return parameters;
  }
}
