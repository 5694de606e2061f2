package dev.kiln.chart;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/** The objects {@code helm template} renders from the chart with some values set, parsed. */
record RenderedChart(List<JsonNode> objects) {

  static final Path CHART = Path.of(System.getProperty("kiln.home", "..")).resolve("charts/kiln");
  static final String RELEASE = "kiln";
  static final String NAMESPACE = "kiln-system";
  /** The Kubernetes release whose schemas the tests check against (Kubernetes' Java client 25 is 1.34). */
  static final String KUBERNETES_VERSION = "1.34.0";
  private static final ObjectMapper YAML = new YAMLMapper();

  static RenderedChart render(Map<String, Object> values) {
    TemplateCommand template = new Helm(CHART).template().withName(RELEASE).withNamespace(NAMESPACE)
        .withKubeVersion(KUBERNETES_VERSION);
    values.forEach(template::set);
    return parse(template.call());
  }

  static RenderedChart parse(String manifests) {
    List<JsonNode> objects = new ArrayList<>();
    try (var parser = new YAMLFactory().createParser(manifests)) {
      for (var docs = YAML.readValues(parser, JsonNode.class); docs.hasNext(); ) {
        JsonNode object = docs.next();
        if (object != null && !object.isNull() && !object.isEmpty()) {
          objects.add(object);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("helm template rendered something that is not YAML", e);
    }
    return new RenderedChart(objects);
  }

  List<JsonNode> ofKind(String kind) {
    return objects.stream().filter(o -> kind.equals(o.path("kind").asText())).toList();
  }

  JsonNode one(String kind) {
    List<JsonNode> found = ofKind(kind);
    if (found.size() != 1) {
      throw new AssertionError("expected one " + kind + ", rendered " + found.size());
    }
    return found.getFirst();
  }

  List<JsonNode> where(Predicate<JsonNode> test) {
    return objects.stream().filter(test).toList();
  }

  JsonNode operatorContainer() {
    return one("Deployment").at("/spec/template/spec/containers/0");
  }

  /** The operator container's environment variable, or null. */
  String env(String name) {
    for (JsonNode variable : operatorContainer().path("env")) {
      if (name.equals(variable.path("name").asText())) {
        return variable.path("value").isMissingNode() ? null : variable.path("value").asText();
      }
    }
    return null;
  }
}
