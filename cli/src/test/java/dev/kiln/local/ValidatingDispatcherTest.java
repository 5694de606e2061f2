package dev.kiln.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.kiln.api.JobFiles;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.validation.JobValidator;
import dev.kiln.api.validation.Violation;
import dev.kiln.cli.KilnCommand;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The local API server refuses what a real one would (the CRD's schema and CEL, transition rules
 * on updates and patches), and {@code kiln validate} reports the same fields: one set of rules.
 */
class ValidatingDispatcherTest {

  private static final YAMLMapper YAML = new YAMLMapper();

  @TempDir
  Path dir;

  private LocalApiServer server;
  private KubernetesClient client;

  @BeforeEach
  void startServer() throws IOException {
    server = new LocalApiServer();
    client = server.admin();
    for (String resource : dev.kiln.api.Crds.ALL) {
      try (InputStream in = getClass().getResourceAsStream(resource)) {
        CustomResourceDefinition crd = client.apiextensions().v1().customResourceDefinitions().load(in).item();
        client.resource(crd).create();
      }
    }
  }

  @AfterEach
  void stopServer() {
    server.close();
  }

  static Stream<Arguments> specsTheApiServerRefuses() {
    return Stream.of(
        spec("negative cpu", t -> stage(t, 0).withObject("resources").put("cpu", "-2")),
        spec("too many nodes", t -> stage(t, 0).withObject("resources").put("nodes", 2000)),
        spec("long stage name", t -> stage(t, 1).put("name", "x".repeat(21))),
        spec("duplicate source", t -> ((ObjectNode) t.at("/spec/data/sources/1")).put("name", "shapes")),
        spec("duplicate stage", t -> stage(t, 1).put("name", "pretrain")),
        spec("initFrom a later stage", t -> stage(t, 0).put("initFrom", "sft")),
        spec("two budgets", t -> stage(t, 0).withObject("budget").put("tokens", 100)),
        spec("empty filter", t -> ((ObjectNode) t.at("/spec/data/sources/0")).putObject("filter")),
        spec("preset and vision", t -> ((ObjectNode) t.at("/spec/model")).putObject("vision").put("imageSize", 32)
            .put("patchSize", 4).put("width", 64).put("depth", 3).put("heads", 4).put("mlpDim", 128)),
        spec("huge image", t -> {
          ObjectNode model = (ObjectNode) t.at("/spec/model");
          model.remove("preset");
          model.putObject("vision").put("imageSize", 8192).put("patchSize", 4).put("width", 64).put("depth", 3)
              .put("heads", 4).put("mlpDim", 128);
          model.putObject("languageModel").put("hiddenSize", 64).put("layers", 2).put("heads", 4).put("kvHeads", 2)
              .put("intermediateSize", 128).put("vocabSize", 512);
        }),
        spec("shardsPerTask too large", t -> ((ObjectNode) t.at("/spec/data/sources/0")).put("shardsPerTask", 100_001)),
        spec("exit code 0", t -> stage(t, 0).putArray("nonRetryableExitCodes").add(0)),
        spec("both claims", t -> ((ObjectNode) t.at("/spec/checkpoints")).put("existingClaim", "mine")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("specsTheApiServerRefuses")
  void theApiServerAndKilnValidateRefuseTheSameFields(String name, ObjectNode tree) throws IOException {
    MultimodalPretrainJob job = JobFiles.fromTree(tree, name);
    List<Violation> rules = JobValidator.apiServerRules(job);
    assertThat(rules).as("the CRD's rules refuse it").isNotEmpty();

    assertThatThrownBy(() -> client.resource(job).create())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> {
          assertThat(e.getCode()).isEqualTo(422);
          assertThat(e.getStatus().getDetails().getCauses()).extracting(c -> c.getField())
              .containsExactlyElementsOf(rules.stream().map(Violation::field).toList());
        });

    Path file = dir.resolve("job.yaml");
    Files.writeString(file, YAML.writeValueAsString(tree));
    StringWriter out = new StringWriter();
    var cli = KilnCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(new StringWriter()));
    assertThat(cli.execute("validate", file.toString())).isNotZero();
    rules.forEach(v -> assertThat(out.toString()).contains(v.toString()));
  }

  @Test
  void aValidJobIsStoredAndItsModelCannotChangeByUpdateOrPatch() throws IOException {
    MultimodalPretrainJob job = JobFiles.fromTree(quickstart(), "quickstart");
    client.resource(job).create();

    ObjectNode changed = quickstart();
    ((ObjectNode) changed.at("/spec/model")).put("preset", "small");
    MultimodalPretrainJob edited = JobFiles.fromTree(changed, "edited");
    assertThatThrownBy(() -> client.resource(edited).update())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getMessage()).contains("model is immutable"));
    assertThatThrownBy(() -> client.resources(MultimodalPretrainJob.class).withName("quickstart")
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"model\":{\"preset\":\"small\"}}}"))
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(422));

    // A change the rules allow goes through, by patch and by update.
    client.resources(MultimodalPretrainJob.class).withName("quickstart")
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"suspend\":true}}");
    assertThat(client.resources(MultimodalPretrainJob.class).withName("quickstart").get().getSpec().suspend()).isTrue();
    assertThat(client.resources(MultimodalPretrainJob.class).withName("quickstart").get().getSpec().model().preset())
        .isEqualTo(job.getSpec().model().preset());
  }

  @Test
  void aStatusWithAValueANumberFieldCannotHoldIsRefusedWhole() throws IOException {
    client.resource(JobFiles.fromTree(quickstart(), "quickstart")).create();
    var jobs = client.resources(MultimodalPretrainJob.class).withName("quickstart");

    var status = client.genericKubernetesResources("kiln.dev/v1alpha1", "MultimodalPretrainJob").withName("quickstart")
        .subresource("status");
    assertThatThrownBy(() -> status.patch(PatchContext.of(PatchType.JSON_MERGE),
            "{\"status\":{\"phase\":\"Running\",\"progress\":{\"loss\":\"NaN\"}}}"))
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> {
          assertThat(e.getCode()).isEqualTo(422);
          assertThat(e.getStatus().getDetails().getCauses()).extracting(c -> c.getField()).contains("status.progress.loss");
        });
    assertThat(jobs.get().getStatus() == null ? null : jobs.get().getStatus().getPhase()).as("nothing of it stored")
        .isNull();

    status.patch(PatchContext.of(PatchType.JSON_MERGE), "{\"status\":{\"progress\":{\"loss\":1.5}}}");
    assertThat(jobs.get().getStatus().getProgress().getLoss()).isEqualTo(1.5);
  }

  @Test
  void anUpdateFromAStaleCopyIsAConflict() throws IOException {
    client.resource(JobFiles.fromTree(quickstart(), "quickstart")).create();
    var jobs = client.resources(MultimodalPretrainJob.class).withName("quickstart");
    MultimodalPretrainJob stale = jobs.get();
    jobs.patch(PatchContext.of(PatchType.JSON_MERGE), "{\"metadata\":{\"labels\":{\"team\":\"vision\"}}}");

    stale.setStatus(new dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus());
    assertThatThrownBy(() -> client.resource(stale).updateStatus())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> {
          assertThat(e.getCode()).isEqualTo(409);
          assertThat(e.getMessage()).contains("the object has been modified");
        });
    assertThatThrownBy(() -> client.resource(stale).update())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(409));

    MultimodalPretrainJob fresh = jobs.get();
    fresh.getMetadata().getLabels().put("stage", "sft");
    client.resource(fresh).update();
    assertThat(jobs.get().getMetadata().getLabels()).containsEntry("team", "vision").containsEntry("stage", "sft");
  }

  @Test
  void aTrainingQueueIsCheckedAgainstItsCrdToo() {
    var queues = client.genericKubernetesResources("kiln.dev/v1alpha1", "TrainingQueue");
    var bad = new io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder()
        .withApiVersion("kiln.dev/v1alpha1").withKind("TrainingQueue")
        .withNewMetadata().withName("research").endMetadata()
        .addToAdditionalProperties("spec", java.util.Map.of("gpuQuota", -8, "strategy", "Random"))
        .build();
    assertThatThrownBy(() -> queues.resource(bad).create())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> {
          assertThat(e.getCode()).isEqualTo(422);
          assertThat(e.getStatus().getDetails().getKind()).isEqualTo("TrainingQueue");
          assertThat(e.getStatus().getDetails().getCauses()).extracting(c -> c.getField())
              .contains("spec.gpuQuota", "spec.strategy");
        });

    var good = new io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder(bad)
        .addToAdditionalProperties("spec", java.util.Map.of("gpuQuota", 16, "strategy", "StrictFIFO"))
        .build();
    queues.resource(good).create();
    assertThat(queues.withName("research").get()).isNotNull();
  }

  private static Arguments spec(String name, Consumer<ObjectNode> change) {
    ObjectNode tree = quickstart();
    change.accept(tree);
    return Arguments.of(name, tree);
  }

  private static ObjectNode stage(JsonNode tree, int index) {
    return (ObjectNode) tree.at("/spec/stages/" + index);
  }

  static ObjectNode quickstart() {
    Path root = Path.of("").toAbsolutePath();
    while (!Files.isDirectory(root.resolve("examples"))) {
      root = root.getParent();
    }
    try {
      return (ObjectNode) YAML.readTree(root.resolve("examples/quickstart.yaml").toFile());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
