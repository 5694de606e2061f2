package dev.kiln.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.api.Crds;
import dev.kiln.api.scheduling.Priorities;
import dev.kiln.api.scheduling.RuntimeClasses;
import dev.kiln.api.validation.CrdSchema;
import dev.kiln.api.validation.Violation;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.node.v1.RuntimeClass;
import io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClass;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.zjsonpatch.JsonPatch;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The in-memory API server's CRUD store with what a real API server checks before it: who is
 * asking (a service account's bearer token, or no credentials for the cluster's own components),
 * whether RBAC lets them ({@link RbacAuthorizer}, 403 Forbidden otherwise), and the validation it
 * does for Kiln's custom resources: a create, update or patch of a MultimodalPretrainJob or TrainingQueue, or of its
 * status, is defaulted and checked against the CRD's schema and CEL rules, transition rules against
 * the stored object, and refused with 422 Invalid and the causes, as {@code kubectl apply} would
 * show them (a status holding a number field the schema refuses, say {@code "NaN"}, is refused whole).
 */
final class ValidatingDispatcher extends IndexedCrudDispatcher {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Requests answered, by the client's User-Agent and what they asked (verb and resource): one component's load. */
  private final Map<RequestKind, LongAdder> requestsByAgent = new ConcurrentHashMap<>();

  /** Who asked (User-Agent) and what: a verb and a resource, as {@code list pods} or {@code patch pods/status}. */
  private record RequestKind(String agent, String kind) {}
  /** Writes taken, by the client's User-Agent: which replica of the operator acted. */
  private final Map<String, LongAdder> writesByAgent = new ConcurrentHashMap<>();
  /** Bearer tokens of service accounts, and whose they are. */
  private final Map<String, RbacAuthorizer.User> tokens = new ConcurrentHashMap<>();
  /** The unauthenticated caller: the cluster's own components and its administrator. */
  private static final RbacAuthorizer.User ADMIN = new RbacAuthorizer.User("system:admin", List.of("system:masters"));
  private final RbacAuthorizer authorizer = new RbacAuthorizer(this::rbacObjects);
  /**
   * RBAC objects by collection path, read once until an RBAC object changes: authorization runs on
   * every request. An entry counts only for the generation it was read in; a write of an RBAC
   * object moves the generation on before and after it, so no read that overlapped it is kept.
   */
  private final Map<String, RbacRead> rbacCache = new ConcurrentHashMap<>();
  private final java.util.concurrent.atomic.AtomicLong rbacGeneration = new java.util.concurrent.atomic.AtomicLong();

  private record RbacRead(long generation, List<JsonNode> items) {}

  /** Faults being injected, if any. */
  private volatile ApiFaults faults;

  /** A custom resource this API server validates: where its objects live, its kind, and its CRD's rules. */
  private record Validated(Pattern path, String kind, CrdSchema crd) {}

  private static final List<Validated> VALIDATED = List.of(
      new Validated(Pattern.compile("/apis/kiln\\.dev/v1alpha1/namespaces/[^/]+/multimodalpretrainjobs"
          + "(/(?<name>[^/?]+))?(?<status>/status)?(\\?.*)?"), "MultimodalPretrainJob", CrdSchema.multimodalPretrainJob()),
      new Validated(Pattern.compile("/apis/kiln\\.dev/v1alpha1/trainingqueues"
          + "(/(?<name>[^/?]+))?(?<status>/status)?(\\?.*)?"), "TrainingQueue", CrdSchema.fromResource(Crds.QUEUES)));

  @Override
  public MockResponse dispatch(RecordedRequest request) {
    String agent = request.getHeader("User-Agent") == null ? "" : request.getHeader("User-Agent");
    ApiRequest attributes = ApiRequest.of(request.getMethod(), request.getPath());
    String kind = attributes.verb() + " " + (attributes.resourceRequest()
        ? attributes.resource() + (attributes.subresource().isEmpty() ? "" : "/" + attributes.subresource())
        : attributes.path());
    requestsByAgent.computeIfAbsent(new RequestKind(agent, kind), a -> new LongAdder()).increment();
    Optional<RbacAuthorizer.User> user = authenticated(request);
    if (user.isEmpty()) {
      return status(failure(401, "Unauthorized", "Unauthorized", "", ""));
    }
    if (user.get() != ADMIN) {
      Optional<String> forbidden = authorizer.forbidden(user.get(), attributes);
      if (forbidden.isPresent()) {
        ObjectNode status = failure(403, "Forbidden", forbidden.get(), attributes.name(), attributes.resource());
        ((ObjectNode) status.get("details")).put("group", attributes.apiGroup());
        return status(status);
      }
    }
    ApiFaults active = faults;
    if (active == null || !active.targets(agent)) {
      return answer(request, attributes, user.get(), agent);
    }
    if (attributes.verb().equals("watch")) {
      return active.watched(answer(request, attributes, user.get(), agent), request.getPath());
    }
    boolean update = "PUT".equals(request.getMethod())
        && !parsedBody(request).path("metadata").path("resourceVersion").asText("").isEmpty();
    Optional<ApiFaults.Kind> fault = active.next(request.getMethod(), request.getPath(), update);
    if (fault.isEmpty()) {
      return answer(request, attributes, user.get(), agent);
    }
    if (fault.get() == ApiFaults.Kind.SLOW) {
      return answer(request, attributes, user.get(), agent).setBodyDelay(active.schedule().slowBy());
    }
    return injectedFailure(fault.get(), attributes);
  }

  /** The answer to an authorized request: the store's, but for what a real API server does that the store does not. */
  private MockResponse answer(RecordedRequest request, ApiRequest attributes, RbacAuthorizer.User user, String agent) {
    if (attributes.resourceRequest() && !"GET".equals(request.getMethod())
        && !attributes.apiGroup().equals("authorization.k8s.io")) {
      writesByAgent.computeIfAbsent(agent, a -> new LongAdder()).increment();
    }
    if (attributes.apiGroup().equals("authorization.k8s.io") && attributes.resource().equals("selfsubjectrulesreviews")) {
      return rulesReview(request, user);
    }
    if (attributes.resource().equals("events") && attributes.verb().equals("list")) {
      return eventsByField(request, attributes);
    }
    MockResponse invalidPodUpdate = podUpdateRefusal(request, attributes, user);
    if (invalidPodUpdate != null) {
      return invalidPodUpdate;
    }
    // The operator's JSON patches are held to RFC 6902 as the API server holds them; the store creates
    // missing parents, which the local cluster's own components (the administrator's) lean on.
    MockResponse unappliable = user != ADMIN && "PATCH".equals(request.getMethod()) ? unappliable(request) : null;
    if (unappliable != null) {
      return unappliable;
    }
    boolean rbacWrite = attributes.apiGroup().equals("rbac.authorization.k8s.io") && !"GET".equals(request.getMethod());
    if (rbacWrite) {
      rbacGeneration.incrementAndGet();
    }
    try {
      return super.dispatch(request);
    } finally {
      if (rbacWrite) {
        rbacGeneration.incrementAndGet();
      }
    }
  }

  /** An update or patch of a pod's spec that the API server would refuse ({@link PodUpdates}), answered 422 Invalid. */
  private MockResponse podUpdateRefusal(RecordedRequest request, ApiRequest attributes, RbacAuthorizer.User user) {
    boolean write = "PUT".equals(request.getMethod()) || "PATCH".equals(request.getMethod());
    if (!write || !attributes.apiGroup().isEmpty() || !attributes.resource().equals("pods")
        || !attributes.subresource().isEmpty() || attributes.name().isEmpty()) {
      return null;
    }
    JsonNode old = stored(request.getPath());
    JsonNode body = parsedBody(request);
    if (old == null || body.isMissingNode()) {
      return null;
    }
    JsonNode updated;
    try {
      updated = "PUT".equals(request.getMethod()) ? body
          : patched(old, body);
    } catch (RuntimeException e) {
      return null;  // a patch this cannot apply is the store's to refuse
    }
    return PodUpdates.refusal(old, updated, user == ADMIN)
        .map(message -> status(failure(422, "Invalid", message, attributes.name(), "pods")))
        .orElse(null);
  }

  /** Faults injected from now on, by {@code schedule}; null stops them. */
  void faults(ApiFaults faults) {
    ApiFaults previous = this.faults;
    this.faults = faults;
    if (previous != null) {
      previous.close();
    }
  }

  /** How a real API server answers a request it fails with {@code fault} (all but a slow answer: nothing was done). */
  private static MockResponse injectedFailure(ApiFaults.Kind fault, ApiRequest attributes) {
    String name = attributes.name();
    String resource = attributes.resource();
    return switch (fault) {
      case SERVER_ERROR -> status(failure(500, "InternalError",
          "Internal error occurred: the server could not complete the request (injected)", name, resource));
      case UNAVAILABLE -> status(failure(503, "ServiceUnavailable",
          "the server is currently unable to handle the request (injected)", name, resource));
      case TOO_MANY_REQUESTS -> {
        ObjectNode status = failure(429, "TooManyRequests", "Too many requests, please try again later. (injected)",
            name, resource);
        ((ObjectNode) status.get("details")).put("retryAfterSeconds", 1);
        yield status(status).addHeader("Retry-After", "1");
      }
      case CONFLICT -> status(failure(409, "Conflict", "Operation cannot be fulfilled on " + resource + " \""
          + name + "\": the object has been modified; please apply your changes to the latest version and try again"
          + " (injected)", name, resource));
      case SLOW, WATCH_EXPIRED -> throw new IllegalArgumentException(fault + " is not a failed request");
    };
  }

  private List<JsonNode> rbacObjects(String collectionPath) {
    long generation = rbacGeneration.get();
    RbacRead cached = rbacCache.get(collectionPath);
    if (cached != null && cached.generation() == generation) {
      return cached.items();
    }
    List<JsonNode> items = items(collectionPath);
    rbacCache.put(collectionPath, new RbacRead(generation, items));
    return items;
  }

  /**
   * A service account's bearer token, as the token controller would mint it: requests that carry it
   * are that service account's, and RBAC decides what they may do.
   */
  String serviceAccountToken(String namespace, String name) {
    String token = java.util.UUID.randomUUID().toString();
    tokens.put(token, RbacAuthorizer.User.serviceAccount(namespace, name));
    return token;
  }

  /**
   * Requests with this bearer token are the cluster administrator's ({@code system:masters}): the
   * credentials of the local cluster's own client, which the local node, the Job controller, the
   * tests and {@code kiln run} use, as a kubeconfig's admin user would.
   */
  void administrator(String token) {
    tokens.put(token, ADMIN);
  }

  /**
   * The caller: a known bearer token's user; no credentials at all is the cluster's own control
   * plane (as its components reach the API server over their own authenticated channel); an
   * unknown token is nobody (401).
   */
  private Optional<RbacAuthorizer.User> authenticated(RecordedRequest request) {
    String authorization = request.getHeader("Authorization");
    if (authorization == null || authorization.isBlank()) {
      return Optional.of(ADMIN);
    }
    String token = authorization.replaceFirst("(?i)^Bearer\\s+", "").trim();
    return Optional.ofNullable(tokens.get(token));
  }

  /** A SelfSubjectRulesReview answered from the caller's RBAC in the namespace it asks about. */
  private MockResponse rulesReview(RecordedRequest request, RbacAuthorizer.User user) {
    JsonNode body = parsedBody(request);
    ObjectNode review = body instanceof ObjectNode object ? object : JSON.createObjectNode();
    String namespace = review.path("spec").path("namespace").asText("");
    ObjectNode status = review.putObject("status");
    ArrayNode resourceRules = status.putArray("resourceRules");
    ArrayNode nonResourceRules = status.putArray("nonResourceRules");
    if (user == ADMIN) {
      ObjectNode rule = resourceRules.addObject();
      rule.putArray("verbs").add("*");
      rule.putArray("apiGroups").add("*");
      rule.putArray("resources").add("*");
    } else {
      for (JsonNode rule : authorizer.rules(user, namespace)) {
        (rule.has("nonResourceURLs") ? nonResourceRules : resourceRules).add(rule);
      }
    }
    status.put("incomplete", false);
    return new MockResponse().setResponseCode(201).setBody(review.toString());
  }

  /**
   * Events listed with a field selector on what they are about, as the API server supports for
   * events ({@code involvedObject.kind}, {@code .name}, {@code .namespace}, {@code .uid}, {@code reason},
   * {@code type}, {@code source}); the store knows only {@code metadata.name} and {@code metadata.namespace}.
   */
  private MockResponse eventsByField(RecordedRequest request, ApiRequest attributes) {
    String fieldSelector = ApiRequest.query(request.getPath()).getOrDefault("fieldSelector", "");
    Map<String, String> selector = new java.util.LinkedHashMap<>();
    for (String term : fieldSelector.split(",")) {
      if (!term.isBlank()) {
        String[] keyValue = term.split("=", 2);
        selector.put(keyValue[0].trim(), keyValue.length > 1 ? keyValue[1].trim() : "");
      }
    }
    if (selector.isEmpty()) {
      return super.dispatch(request);
    }
    String collection = attributes.namespace().isEmpty() ? "/api/v1/events"
        : "/api/v1/namespaces/" + attributes.namespace() + "/events";
    ObjectNode list = JSON.createObjectNode().put("kind", "EventList").put("apiVersion", "v1");
    list.putObject("metadata");
    ArrayNode matching = list.putArray("items");
    for (JsonNode event : items(collection)) {
      boolean matches = selector.entrySet().stream().allMatch(term -> term.getValue().equals(
          event.at("/" + (term.getKey().equals("source") ? "source.component" : term.getKey()).replace('.', '/'))
              .asText("")));
      if (matches) {
        matching.add(event);
      }
    }
    return new MockResponse().setResponseCode(200).setBody(list.toString());
  }

  private static MockResponse status(ObjectNode status) {
    return new MockResponse().setResponseCode(status.path("code").asInt()).setBody(status.toString());
  }

  long requestsFrom(String agentPrefix) {
    return requestsByKindFrom(agentPrefix).values().stream().mapToLong(Long::longValue).sum();
  }

  Map<String, Long> requestsByKindFrom(String agentPrefix) {
    Map<String, Long> byKind = new java.util.TreeMap<>();
    requestsByAgent.forEach((key, count) -> {
      if (key.agent().startsWith(agentPrefix)) {
        byKind.merge(key.kind(), count.sum(), Long::sum);
      }
    });
    return byKind;
  }

  long writesFrom(String agent) {
    LongAdder writes = writesByAgent.get(agent);
    return writes == null ? 0 : writes.sum();
  }

  @Override
  public MockResponse handleCreate(RecordedRequest request) {
    MockResponse refused = body(request).map(write -> refusal(write, write.body(), null)).orElse(null);
    if (refused == null) {
      refused = unknownPriorityClass(request);
    }
    if (refused == null) {
      RuntimeClassAdmission runtime = runtimeClass(request);
      refused = runtime.refusal();
      request = runtime.request();
    }
    if (refused == null) {
      refused = overQuota(request);
    }
    return refused != null ? refused : super.handleCreate(request);
  }

  /** A pod create as the RuntimeClass admission plugin leaves it: refused, or the request with the pod as admitted. */
  private record RuntimeClassAdmission(RecordedRequest request, MockResponse refusal) {}

  /**
   * A pod naming a RuntimeClass is admitted as the API server's RuntimeClass plugin admits it
   * ({@link RuntimeClasses}): refused with 403 when the class does not exist or conflicts with the
   * pod; else stored with the class's overhead, node selector and tolerations.
   */
  private RuntimeClassAdmission runtimeClass(RecordedRequest request) {
    if (!POD_CREATE.matcher(request.getPath()).matches()) {
      return new RuntimeClassAdmission(request, null);
    }
    JsonNode pod = parsedBody(request);
    JsonNode spec = pod.path("spec");
    String className = spec.path("runtimeClassName").asText("");
    if (className.isEmpty() && spec.path("overhead").isMissingNode()) {
      return new RuntimeClassAdmission(request, null);
    }
    Pod typed = JSON.convertValue(pod, Pod.class);
    List<RuntimeClass> classes = items("/apis/node.k8s.io/v1/runtimeclasses").stream()
        .map(item -> JSON.convertValue(item, RuntimeClass.class)).toList();
    RuntimeClasses.Admitted admitted = RuntimeClasses.admit(className, typed.getSpec().getOverhead(),
        typed.getSpec().getNodeSelector(), typed.getSpec().getTolerations(), classes);
    String name = pod.path("metadata").path("name").asText();
    if (admitted.refused()) {
      return new RuntimeClassAdmission(request, status(failure(403, "Forbidden",
          "pods \"" + name + "\" is forbidden: " + admitted.refusal(), name, "pods")));
    }
    typed.getSpec().setOverhead(admitted.overhead());
    typed.getSpec().setNodeSelector(admitted.nodeSelector());
    typed.getSpec().setTolerations(admitted.tolerations());
    return new RuntimeClassAdmission(new RecordedRequest(request.getHttpVersion(), request.method(), request.getPath(),
        request.getHeaders(), new io.fabric8.mockwebserver.http.Buffer(
            io.fabric8.kubernetes.client.utils.Serialization.asJson(typed).getBytes(java.nio.charset.StandardCharsets.UTF_8))),
        null);
  }

  private static final Pattern POD_CREATE = Pattern.compile("/api/v1/namespaces/(?<namespace>[^/]+)/pods(\\?.*)?");

  /**
   * A pod naming a PriorityClass that does not exist is refused with 403 Forbidden, as the
   * Priority admission plugin refuses it (before quota admission sees the pod).
   */
  private MockResponse unknownPriorityClass(RecordedRequest request) {
    if (!POD_CREATE.matcher(request.getPath()).matches()) {
      return null;
    }
    JsonNode pod = parsedBody(request);
    String className = pod.path("spec").path("priorityClassName").asText("");
    if (className.isEmpty()) {
      return null;
    }
    List<PriorityClass> classes = items("/apis/scheduling.k8s.io/v1/priorityclasses").stream()
        .map(item -> JSON.convertValue(item, PriorityClass.class)).toList();
    String name = pod.path("metadata").path("name").asText();
    return Priorities.resolve(className, classes).isPresent() ? null : status(failure(403, "Forbidden",
        "pods \"" + name + "\" is forbidden: " + Priorities.missing(className), name, "pods"));
  }

  /** A pod the namespace's ResourceQuotas leave no room for is refused with 403 Forbidden, as quota admission does. */
  private MockResponse overQuota(RecordedRequest request) {
    Matcher matcher = POD_CREATE.matcher(request.getPath());
    if (!matcher.matches()) {
      return null;
    }
    String namespacePath = "/api/v1/namespaces/" + matcher.group("namespace");
    List<JsonNode> quotas = items(namespacePath + "/resourcequotas");
    if (quotas.isEmpty()) {
      return null;
    }
    JsonNode pod = parsedBody(request);
    if (pod.isMissingNode()) {
      return null;
    }
    return ResourceQuotas.refusal(pod, quotas, items(namespacePath + "/pods"))
        .map(message -> failure(403, "Forbidden", message, pod.path("metadata").path("name").asText(), "pods"))
        .map(ValidatingDispatcher::status)
        .orElse(null);
  }

  private List<JsonNode> items(String collectionPath) {
    try {
      JsonNode list = JSON.readTree(handleGet(collectionPath).getBody().readUtf8());
      List<JsonNode> items = new java.util.ArrayList<>();
      list.path("items").forEach(items::add);
      return items;
    } catch (IOException | RuntimeException e) {
      return List.of();
    }
  }

  @Override
  public MockResponse handleUpdate(RecordedRequest request) {
    MockResponse conflict = staleUpdate(request);
    if (conflict != null) {
      return conflict;
    }
    MockResponse refused = body(request).map(write -> refusal(write, write.body(), stored(request.getPath())))
        .orElse(null);
    return refused != null ? refused : super.handleUpdate(request);
  }

  @Override
  public MockResponse handlePatch(RecordedRequest request) {
    MockResponse refused = body(request).map(write -> {
      JsonNode patch = write.body();
      JsonNode old = stored(request.getPath());
      if (old == null || patch.isMissingNode()) {
        return null;
      }
      try {
        return refusal(write, patched(old, patch), old);
      } catch (RuntimeException e) {
        return null;  // a patch that cannot be applied is answered below
      }
    }).orElse(null);
    if (refused != null) {
      return refused;
    }
    try {
      return super.handlePatch(asJsonPatch(request));
    } catch (RuntimeException e) {
      return unappliable(request, e);  // the store throws on a patch it cannot apply (a failed test)
    }
  }

  /**
   * A JSON patch that cannot be applied to the stored object (a {@code test} that fails, a path
   * that is not there) is answered 422 as the API server answers it; the store would throw, or
   * create the missing path.
   */
  private MockResponse unappliable(RecordedRequest request) {
    JsonNode patch = parsedBody(request);
    JsonNode old = patch.isArray() ? stored(request.getPath()) : null;
    if (old == null) {
      return null;
    }
    try {
      JsonPatch.apply(patch, old);
      return null;
    } catch (RuntimeException e) {
      return unappliable(request, e);
    }
  }

  private static MockResponse unappliable(RecordedRequest request, RuntimeException cause) {
    ApiRequest attributes = ApiRequest.of(request.getMethod(), request.getPath());
    return status(failure(422, "Invalid", "the server rejected our request due to an error in our request: "
        + cause.getMessage(), attributes.name(), attributes.resource()));
  }

  /** The stored object once a JSON patch (an array) or a JSON merge patch is applied to it. */
  private static JsonNode patched(JsonNode old, JsonNode patch) {
    return patch.isArray() ? JsonPatch.apply(patch, old) : mergePatch(old.deepCopy(), patch);
  }

  /**
   * A JSON merge patch as the JSON patch that makes the same change, RFC 7386 applied here: the
   * store merges lists item by item, where the API server replaces them whole (a pod's
   * {@code schedulingGates: []} lifts its gates).
   */
  private RecordedRequest asJsonPatch(RecordedRequest request) {
    String type = request.getHeader("Content-Type");
    JsonNode patch = parsedBody(request);
    JsonNode old = type != null && type.startsWith("application/merge-patch+json") && patch.isObject()
        ? stored(request.getPath()) : null;
    if (old == null) {
      return request;
    }
    JsonNode operations = io.fabric8.zjsonpatch.JsonDiff.asJson(old, mergePatch(old.deepCopy(), patch));
    var headers = request.getHeaders().newBuilder().set("Content-Type", "application/json-patch+json").build();
    return new RecordedRequest(request.getHttpVersion(), request.method(), request.getPath(), headers,
        new io.fabric8.mockwebserver.http.Buffer(operations.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }

  /**
   * Optimistic concurrency, as a real API server has it: an update that names a resourceVersion
   * other than the stored one was computed from a stale copy and is refused with 409 Conflict.
   */
  private MockResponse staleUpdate(RecordedRequest request) {
    String sent = parsedBody(request).path("metadata").path("resourceVersion").asText("");
    String path = request.getPath().replaceFirst("\\?.*", "").replaceFirst("/status$", "");
    JsonNode stored = stored(path);
    String current = stored == null ? "" : stored.path("metadata").path("resourceVersion").asText("");
    if (sent.isEmpty() || current.isEmpty() || sent.equals(current)) {
      return null;
    }
    String name = stored.path("metadata").path("name").asText("");
    String kind = stored.path("kind").asText("");
    ObjectNode status = failure(409, "Conflict", "Operation cannot be fulfilled on " + kind + " \"" + name
        + "\": the object has been modified; please apply your changes to the latest version and try again", name, kind);
    return status(status);
  }

  /** The request's body as JSON, missing when it is not; the bytes are put back for the store, which reads them too. */
  private static JsonNode parsedBody(RecordedRequest request) {
    String body = request.getBody().readUtf8();
    request.getBody().writeUtf8(body);
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      return MissingNode.getInstance();
    }
  }

  /** A {@code Status} of kind Failure, as the API server answers a refused request. */
  private static ObjectNode failure(int code, String reason, String message, String name, String kind) {
    ObjectNode status = JSON.createObjectNode().put("kind", "Status").put("apiVersion", "v1").put("status", "Failure")
        .put("message", message).put("reason", reason).put("code", code);
    status.putObject("details").put("name", name).put("kind", kind);
    return status;
  }

  /** A write to a validated resource: which one, and its body parsed (missing when it is not JSON). */
  private record Write(Validated resource, JsonNode body) {}

  /**
   * The body of a request that writes one of Kiln's custom resources or their status, parsed;
   * empty for any other request. Reading a buffer consumes it, so the same bytes are put back for
   * the store.
   */
  private static Optional<Write> body(RecordedRequest request) {
    for (Validated resource : VALIDATED) {
      Matcher matcher = resource.path().matcher(request.getPath());
      if (!matcher.matches()) {
        continue;
      }
      return Optional.of(new Write(resource, parsedBody(request)));
    }
    return Optional.empty();
  }

  private MockResponse refusal(Write write, JsonNode object, JsonNode old) {
    if (object.isMissingNode()) {
      return null;  // not JSON: the store answers that
    }
    List<Violation> violations = write.resource().crd().validate(object, old);
    if (violations.isEmpty()) {
      return null;
    }
    String kind = write.resource().kind();
    String name = object.path("metadata").path("name").asText("");
    ObjectNode status = failure(422, "Invalid", kind + ".kiln.dev \"" + name + "\" is invalid: "
        + String.join(", ", violations.stream().map(Violation::toString).toList()), name, kind);
    ObjectNode details = ((ObjectNode) status.get("details")).put("group", "kiln.dev");
    ArrayNode causes = details.putArray("causes");
    violations.forEach(v -> causes.addObject().put("reason", "FieldValueInvalid").put("message", v.message())
        .put("field", v.field()));
    return status(status);
  }

  private JsonNode stored(String path) {
    Map.Entry<?, String> entry = findResource(getKey(path.replaceFirst("\\?.*", "")));
    if (entry == null) {
      return null;
    }
    try {
      return JSON.readTree(entry.getValue());
    } catch (IOException e) {
      return null;
    }
  }

  /** RFC 7386: objects merge key by key, null removes, anything else replaces. */
  private static JsonNode mergePatch(JsonNode target, JsonNode patch) {
    if (!patch.isObject()) {
      return patch;
    }
    ObjectNode result = target instanceof ObjectNode object ? object : JSON.createObjectNode();
    patch.properties().forEach(e -> {
      if (e.getValue().isNull()) {
        result.remove(e.getKey());
      } else {
        result.set(e.getKey(), mergePatch(result.path(e.getKey()).isMissingNode() ? null : result.get(e.getKey()),
            e.getValue()));
      }
    });
    return result;
  }
}
