package dev.kiln.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.api.validation.CrdSchema;
import dev.kiln.api.validation.Violation;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.zjsonpatch.JsonPatch;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The in-memory API server's CRUD store with the validation a real API server does for Kiln's
 * custom resource: a create, update or patch of a MultimodalPretrainJob (not its status) is
 * defaulted and checked against the CRD's schema and CEL rules, transition rules against the stored
 * object, and refused with 422 Invalid and the causes, as {@code kubectl apply} would show them.
 */
final class ValidatingDispatcher extends KubernetesCrudDispatcher {

  private static final Pattern JOBS = Pattern.compile("/apis/kiln\\.dev/v1alpha1/namespaces/[^/]+/multimodalpretrainjobs"
      + "(/(?<name>[^/?]+))?(?<status>/status)?(\\?.*)?");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final CrdSchema crd = CrdSchema.multimodalPretrainJob();

  @Override
  public MockResponse handleCreate(RecordedRequest request) {
    MockResponse refused = jobBody(request).map(body -> refusal(body, null)).orElse(null);
    return refused != null ? refused : super.handleCreate(request);
  }

  @Override
  public MockResponse handleUpdate(RecordedRequest request) {
    MockResponse refused = jobBody(request).map(body -> refusal(body, stored(request.getPath()))).orElse(null);
    return refused != null ? refused : super.handleUpdate(request);
  }

  @Override
  public MockResponse handlePatch(RecordedRequest request) {
    MockResponse refused = jobBody(request).map(patch -> {
      JsonNode old = stored(request.getPath());
      if (old == null || patch.isMissingNode()) {
        return null;
      }
      try {
        return refusal(patch.isArray() ? JsonPatch.apply(patch, old) : mergePatch(old.deepCopy(), patch), old);
      } catch (RuntimeException e) {
        return null;  // a patch this cannot apply is the store's to refuse, with its own message
      }
    }).orElse(null);
    return refused != null ? refused : super.handlePatch(request);
  }

  /**
   * The body of a request that writes a MultimodalPretrainJob (not its status), parsed; empty for
   * any other request. Reading a buffer consumes it, so the same bytes are put back for the store.
   */
  private static Optional<JsonNode> jobBody(RecordedRequest request) {
    Matcher jobs = JOBS.matcher(request.getPath());
    if (!jobs.matches() || jobs.group("status") != null) {
      return Optional.empty();
    }
    String body = request.getBody().readUtf8();
    request.getBody().writeUtf8(body);
    try {
      return Optional.of(JSON.readTree(body));
    } catch (IOException e) {
      return Optional.of(MissingNode.getInstance());
    }
  }

  private MockResponse refusal(JsonNode object, JsonNode old) {
    if (object.isMissingNode()) {
      return null;  // not JSON: the store answers that
    }
    List<Violation> violations = crd.validate(object, old);
    if (violations.isEmpty()) {
      return null;
    }
    String name = object.path("metadata").path("name").asText("");
    ObjectNode status = JSON.createObjectNode().put("kind", "Status").put("apiVersion", "v1").put("status", "Failure");
    status.put("message", "MultimodalPretrainJob.kiln.dev \"" + name + "\" is invalid: "
        + String.join(", ", violations.stream().map(Violation::toString).toList()));
    status.put("reason", "Invalid").put("code", 422);
    ObjectNode details = status.putObject("details").put("name", name).put("group", "kiln.dev")
        .put("kind", "MultimodalPretrainJob");
    ArrayNode causes = details.putArray("causes");
    violations.forEach(v -> causes.addObject().put("reason", "FieldValueInvalid").put("message", v.message())
        .put("field", v.field()));
    return new MockResponse().setResponseCode(422).setBody(status.toString());
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
