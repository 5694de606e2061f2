package dev.kiln.datajobs.fetch;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.kiln.datajobs.DataJobsMain;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * examples/loaders/fetch-weights.yaml runs the data-jobs image of the chart's version with a
 * command line {@code kiln-data} accepts, under the restricted pod security standard, and fills the
 * folders examples/open-qwen2vl.yaml reads its initial weights from.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LoaderExampleTest {

  static final Path ROOT = Path.of(System.getProperty("kiln.root", ".."));

  static List<JsonNode> documents(Path file) throws Exception {
    try (MappingIterator<JsonNode> docs = new YAMLMapper().readerFor(JsonNode.class).readValues(file.toFile())) {
      return docs.readAll();
    }
  }

  @Test
  void theJobRunsTheChartsDataJobsImageWithAFetchKilnDataAccepts() throws Exception {
    List<JsonNode> docs = documents(ROOT.resolve("examples/loaders/fetch-weights.yaml"));
    JsonNode job = docs.stream().filter(d -> d.path("kind").asText().equals("Job")).findFirst().orElseThrow();
    JsonNode claim = docs.stream().filter(d -> d.path("kind").asText().equals("PersistentVolumeClaim")).findFirst().orElseThrow();
    JsonNode pod = job.path("spec").path("template").path("spec");
    JsonNode container = pod.path("containers").get(0);

    Matcher version = Pattern.compile("(?m)^appVersion: *\"?([^\"\\s]+)\"?$")
        .matcher(Files.readString(ROOT.resolve("charts/kiln/Chart.yaml")));
    assertThat(version.find()).isTrue();
    assertThat(container.path("image").asText()).isEqualTo("ghcr.io/kiln-dev/kiln-data-jobs:" + version.group(1));
    List<String> args = new ArrayList<>();
    container.path("args").forEach(a -> args.add(a.asText()));
    var parsed = DataJobsMain.commandLine().parseArgs(args.toArray(String[]::new));
    assertThat(parsed.subcommand().commandSpec().name()).isEqualTo("fetch");
    assertThat(pod.path("volumes").findValuesAsText("claimName")).containsExactly(claim.path("metadata").path("name").asText());

    assertThat(pod.path("securityContext").path("runAsNonRoot").asBoolean()).isTrue();
    assertThat(pod.path("securityContext").path("runAsUser").asInt()).isEqualTo(65532);
    assertThat(pod.path("securityContext").path("seccompProfile").path("type").asText()).isEqualTo("RuntimeDefault");
    JsonNode security = container.path("securityContext");
    assertThat(security.path("allowPrivilegeEscalation").isBoolean() && !security.path("allowPrivilegeEscalation").asBoolean()).isTrue();
    assertThat(security.path("readOnlyRootFilesystem").asBoolean()).isTrue();
    assertThat(security.path("capabilities").path("drop").get(0).asText()).isEqualTo("ALL");
    assertThat(container.path("env").get(0).path("valueFrom").path("secretKeyRef").path("optional").asBoolean()).isTrue();
  }

  @Test
  void itFillsTheFoldersTheOpenQwen2VlExampleReadsItsWeightsFrom() throws Exception {
    JsonNode job = documents(ROOT.resolve("examples/loaders/fetch-weights.yaml")).stream()
        .filter(d -> d.path("kind").asText().equals("Job")).findFirst().orElseThrow();
    JsonNode container = job.path("spec").path("template").path("spec").path("containers").get(0);
    JsonNode weights = documents(ROOT.resolve("examples/open-qwen2vl.yaml")).getFirst()
        .path("spec").path("model").path("initialWeights");

    List<String> folders = new ArrayList<>();
    container.path("args").forEach(a -> {
      if (a.asText().startsWith("hf://")) {
        folders.add(HubRepository.parse(a.asText(), Map.of()).folder());
      }
    });
    assertThat(folders).containsExactly(weights.path("languageModel").asText(), weights.path("visionEncoder").asText());
    assertThat(job.path("spec").path("template").path("spec").path("volumes").findValuesAsText("claimName"))
        .containsExactly(weights.path("claimName").asText());
  }

  @Test
  void theLlavaConversionWritesTheShardsTheLlavaExampleTrainsOnFromWeightsTheFetchLoaderPutsThere() throws Exception {
    JsonNode job = documents(ROOT.resolve("examples/loaders/convert-llava.yaml")).getFirst();
    JsonNode pod = job.path("spec").path("template").path("spec");
    JsonNode container = pod.path("containers").get(0);
    List<String> args = new ArrayList<>();
    container.path("args").forEach(a -> args.add(a.asText()));
    var parsed = DataJobsMain.commandLine().parseArgs(args.toArray(String[]::new));
    assertThat(parsed.subcommand().commandSpec().name()).isEqualTo("from-llava");
    assertThat(pod.path("securityContext").path("runAsNonRoot").asBoolean()).isTrue();
    assertThat(container.path("securityContext").path("readOnlyRootFilesystem").asBoolean()).isTrue();

    JsonNode spec = documents(ROOT.resolve("examples/llava-sft.yaml")).getFirst().path("spec");
    String mount = container.path("volumeMounts").get(0).path("mountPath").asText();
    String output = args.get(args.indexOf("--output") + 1);
    String shards = spec.path("data").path("sources").get(0).path("shards").asText();
    assertThat(pod.path("volumes").findValuesAsText("claimName")).containsExactly(spec.path("data").path("claimName").asText());
    assertThat(mount + "/" + shards).startsWith(output + "/");
    JsonNode fetched = documents(ROOT.resolve("examples/open-qwen2vl.yaml")).getFirst().path("spec").path("model")
        .path("initialWeights");
    assertThat(spec.path("model").path("initialWeights")).isEqualTo(fetched);
  }
}
