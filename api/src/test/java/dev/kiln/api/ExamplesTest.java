package dev.kiln.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.api.validation.CrdSchema;
import dev.kiln.api.validation.JobValidator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every YAML in examples/ is a valid job, and every one in examples/queues/ a valid TrainingQueue. */
class ExamplesTest {

  static Stream<Path> examples() throws IOException {
    try (Stream<Path> files = Files.list(KilnRoot.path().resolve("examples"))) {
      List<Path> yamls = files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
      assertThat(yamls).isNotEmpty();
      return yamls.stream();
    }
  }

  @ParameterizedTest
  @MethodSource("examples")
  void exampleIsAValidJob(Path example) {
    List<MultimodalPretrainJob> jobs = JobFiles.read(example);

    assertThat(jobs).isNotEmpty();
    for (MultimodalPretrainJob job : jobs) {
      assertThat(JobValidator.validate(job)).as(example.getFileName().toString()).isEmpty();
    }
  }

  @Test
  void theClusterQuickstartIsTheQuickstart() {
    Path examples = KilnRoot.path().resolve("examples");
    MultimodalPretrainJob local = JobFiles.read(examples.resolve("quickstart.yaml")).getFirst();
    MultimodalPretrainJob cluster = JobFiles.read(examples.resolve("cluster-quickstart.yaml")).getFirst();
    assertThat(Canonical.json(cluster.getSpec())).isEqualTo(Canonical.json(local.getSpec()));
    assertThat(cluster.getMetadata().getAnnotations()).isEqualTo(local.getMetadata().getAnnotations())
        .containsKey("kiln.dev/sample-data");
  }

  @Test
  void theGitOpsExamplesDeployThePinnedQuickstartAndWaitForItsHealth() throws IOException {
    Path root = KilnRoot.path();
    Path gitops = root.resolve("examples/gitops");
    MultimodalPretrainJob pinned = JobFiles.read(gitops.resolve("quickstart/job.yaml")).getFirst();
    assertThat(JobValidator.validate(pinned)).isEmpty();
    assertThat(pinned.getSpec().reproduce().packedData()).extracting(p -> p.stage()).containsExactly("pretrain", "sft");
    assertThat(pinned.getSpec().reproduce().tokenizerSha256()).hasSize(64);
    MultimodalPretrainJob quickstart = JobFiles.read(root.resolve("examples/quickstart.yaml")).getFirst();
    var s = pinned.getSpec();
    var unpinned = new dev.kiln.api.v1alpha1.MultimodalPretrainJobSpec(s.model(), s.data(), s.stages(), s.checkpoints(),
        s.scheduling(), null, s.suspend(), s.restartNonce(), s.ttlSecondsAfterFinished(), s.seed(), null);
    assertThat(Canonical.json(unpinned)).as("the quickstart, only pinned").isEqualTo(Canonical.json(quickstart.getSpec()));

    var yaml = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper();
    assertThat(yaml.readTree(gitops.resolve("quickstart/kustomization.yaml").toFile()).path("resources").toString())
        .contains("job.yaml");
    var application = yaml.readTree(gitops.resolve("argocd-application.yaml").toFile());
    assertThat(application.path("kind").asText()).isEqualTo("Application");
    assertThat(root.resolve(application.at("/spec/source/path").asText())).isDirectory().isEqualTo(gitops.resolve("quickstart"));
    List<com.fasterxml.jackson.databind.JsonNode> flux = new java.util.ArrayList<>();
    try (var parser = yaml.getFactory().createParser(gitops.resolve("flux-kustomization.yaml").toFile())) {
      yaml.readValues(parser, com.fasterxml.jackson.databind.JsonNode.class).forEachRemaining(flux::add);
    }
    var kustomization = flux.stream().filter(d -> d.path("kind").asText().equals("Kustomization")).findFirst().orElseThrow();
    assertThat(root.resolve(kustomization.at("/spec/path").asText()).normalize()).isEqualTo(gitops.resolve("quickstart"));
    assertThat(kustomization.at("/spec/healthChecks/0/kind").asText()).isEqualTo(MultimodalPretrainJob.KIND);
    assertThat(kustomization.at("/spec/healthChecks/0/name").asText()).isEqualTo(pinned.getMetadata().getName());
    assertThat(kustomization.at("/spec/healthChecks/0/namespace").asText())
        .isEqualTo(kustomization.at("/spec/targetNamespace").asText()).isEqualTo(application.at("/spec/destination/namespace").asText());
    assertThat(kustomization.at("/spec/sourceRef/name").asText()).isEqualTo(flux.getFirst().at("/metadata/name").asText());
  }

  static Stream<Path> queues() throws IOException {
    try (Stream<Path> files = Files.list(KilnRoot.path().resolve("examples/queues"))) {
      return files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList().stream();
    }
  }

  /** A file in examples/queues/ holds TrainingQueues or the PriorityClasses jobs name. */
  @ParameterizedTest
  @MethodSource("queues")
  void queueExampleIsAValidTrainingQueueOrPriorityClass(Path example) throws IOException {
    var yaml = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper();
    List<com.fasterxml.jackson.databind.JsonNode> documents = new java.util.ArrayList<>();
    try (var parser = yaml.getFactory().createParser(example.toFile())) {
      yaml.readValues(parser, com.fasterxml.jackson.databind.JsonNode.class).forEachRemaining(documents::add);
    }
    assertThat(documents).isNotEmpty();
    for (var tree : documents) {
      if (tree.path("kind").asText().startsWith("ValidatingAdmissionPolicy")) {
        continue;  // what it allows: theHighPriorityClassIsFencedToTheNamespacesThePolicyNames
      }
      if (tree.path("kind").asText().equals("PriorityClass")) {
        var priorityClass = yaml.treeToValue(tree, io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClass.class);
        assertThat(priorityClass.getValue()).as(example.getFileName().toString()).isNotNull();
        continue;
      }
      assertThat(tree.path("kind").asText()).isEqualTo("TrainingQueue");
      assertThat(CrdSchema.fromResource(Crds.QUEUES).validate(tree, null)).as(example.getFileName().toString()).isEmpty();
      TrainingQueue queue = yaml.treeToValue(tree, TrainingQueue.class);
      assertThat(queue.getSpec().gpuQuota()).isPositive();
    }
  }

  @Test
  void theHighPriorityClassIsFencedToTheNamespacesThePolicyNames() throws IOException {
    var yaml = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper();
    com.fasterxml.jackson.databind.JsonNode policy;
    try (var parser = yaml.getFactory().createParser(KilnRoot.path().resolve("examples/queues/priority-policy.yaml")
        .toFile())) {
      policy = yaml.readValues(parser, com.fasterxml.jackson.databind.JsonNode.class).next();
    }
    List<String> expressions = new java.util.ArrayList<>();
    policy.at("/spec/validations").forEach(v -> expressions.add(v.path("expression").asText()));
    java.util.function.BiPredicate<com.fasterxml.jackson.databind.JsonNode, com.fasterxml.jackson.databind.JsonNode>
        allows = (job, namespace) -> expressions.stream().allMatch(e -> CrdSchema.admissionPolicyAllows(e, job, namespace));
    var recipe = yaml.readTree(KilnRoot.path().resolve("examples/open-qwen2vl.yaml").toFile());
    var quickstart = yaml.readTree(KilnRoot.path().resolve("examples/quickstart.yaml").toFile());
    var team = yaml.readTree("metadata: {name: vision, labels: {kiln.dev/team: research}}");
    var leads = yaml.readTree("metadata: {name: leads, labels: {kiln.dev/team: research, kiln.dev/priority: high}}");
    var bare = yaml.readTree("metadata: {name: scratch}");

    assertThat(recipe.at("/spec/scheduling/priorityClassName").asText()).isEqualTo("research-high");
    assertThat(allows.test(recipe, team)).as("research-high from a team namespace").isFalse();
    assertThat(allows.test(recipe, bare)).as("from a namespace without labels").isFalse();
    assertThat(allows.test(recipe, leads)).as("from the labelled namespace").isTrue();
    assertThat(allows.test(quickstart, bare)).as("no class named").isTrue();
    var viaStage = quickstart.deepCopy();
    ((com.fasterxml.jackson.databind.node.ObjectNode) viaStage.at("/spec/stages/0")).putObject("pod")
        .put("priorityClassName", "research-high");
    assertThat(allows.test(viaStage, team)).as("nor through a stage's pod settings").isFalse();
    assertThat(allows.test(viaStage, leads)).isTrue();
  }

  @Test
  void theRecipesPriorityClassIsOneTheExamplesDefine() throws IOException {
    String named = JobFiles.read(KilnRoot.path().resolve("examples/open-qwen2vl.yaml")).getFirst().getSpec().scheduling()
        .priorityClassName();
    assertThat(Files.readString(KilnRoot.path().resolve("examples/queues/priority-classes.yaml")))
        .contains("kind: PriorityClass\nmetadata:\n  name: " + named + "\n");
  }
}
