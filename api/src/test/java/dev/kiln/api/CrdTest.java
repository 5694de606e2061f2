package dev.kiln.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The committed CRD is the generated one, and the schema's defaults are the Java model's. */
class CrdTest {

  static final String CRD_FILE = "multimodalpretrainjobs.kiln.dev-v1.yml";
  static final String QUEUE_CRD_FILE = "trainingqueues.kiln.dev-v1.yml";

  @ParameterizedTest
  @ValueSource(strings = {CRD_FILE, QUEUE_CRD_FILE})
  void committedCrdMatchesAFreshGeneration(String file) throws IOException {
    String generated = generatedCrd(file);
    Path committed = KilnRoot.path().resolve("crds").resolve(file);
    if (Boolean.getBoolean("kiln.crd.update")) {
      Files.writeString(committed, generated);
      Files.writeString(KilnRoot.path().resolve("charts/kiln/crds").resolve(file), generated);  // the chart ships them
    }
    assertThat(committed).as("crds/%s; regenerate with ./mvnw -pl api test -Dkiln.crd.update=true", file)
        .exists();
    assertThat(Files.readString(committed))
        .as("crds/%s is stale; regenerate with ./mvnw -pl api test -Dkiln.crd.update=true", file)
        .isEqualTo(generated);
  }

  @Test
  void everyGeneratedCrdIsCommitted() throws IOException {
    try (var files = Files.list(KilnRoot.path().resolve("api/target/classes/META-INF/fabric8"))) {
      assertThat(files.map(f -> f.getFileName().toString()).sorted().toList())
          .containsExactly(CRD_FILE, QUEUE_CRD_FILE);
    }
  }

  @Test
  void schemaDefaultsEqualJavaDefaults() throws IOException {
    JsonNode schema = new YAMLMapper().readTree(generatedCrd(CRD_FILE))
        .at("/spec/versions/0/schema/openAPIV3Schema/properties/spec");
    MultimodalPretrainJob job;
    try (InputStream in = getClass().getResourceAsStream("/every-default.yaml")) {
      job = JobFiles.parse(new String(in.readAllBytes()), "every-default.yaml").getFirst();
    }
    JsonNode javaSpec = new ObjectMapper().valueToTree(job.getSpec());

    List<String> mismatches = new ArrayList<>();
    int checked = compareDefaults(schema, javaSpec, "spec", mismatches);

    assertThat(mismatches).isEmpty();
    assertThat(checked).as("defaults checked").isGreaterThan(30);
  }

  private static int compareDefaults(JsonNode schema, JsonNode value, String path, List<String> mismatches) {
    int checked = 0;
    if (value == null || value.isNull()) {
      return 0;
    }
    if (value.isArray() && schema.has("items")) {
      for (int i = 0; i < value.size(); i++) {
        checked += compareDefaults(schema.get("items"), value.get(i), path + "[" + i + "]", mismatches);
      }
      return checked;
    }
    for (Map.Entry<String, JsonNode> property : schema.path("properties").properties()) {
      String at = path + "." + property.getKey();
      JsonNode javaValue = value.get(property.getKey());
      JsonNode expected = property.getValue().get("default");
      if (expected != null) {
        checked++;
        if (!sameValue(expected, javaValue)) {
          mismatches.add(at + ": schema default " + expected + ", Java " + javaValue);
        }
      }
      checked += compareDefaults(property.getValue(), javaValue, at, mismatches);
    }
    return checked;
  }

  private static boolean sameValue(JsonNode expected, JsonNode actual) {
    if (actual == null) {
      return false;
    }
    if (expected.isNumber() && actual.isNumber()) {
      return expected.asDouble() == actual.asDouble();
    }
    return expected.equals(actual);
  }

  private static String generatedCrd(String file) throws IOException {
    try (InputStream in = CrdTest.class.getResourceAsStream("/META-INF/fabric8/" + file)) {
      assertThat(in).as("generated CRD on the classpath").isNotNull();
      return new String(in.readAllBytes());
    }
  }
}
