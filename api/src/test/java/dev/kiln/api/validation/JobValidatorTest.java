package dev.kiln.api.validation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.kiln.api.JobFiles;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.v1alpha1.ReproducibilityStatus;
import dev.kiln.api.v1alpha1.StageStatus;
import dev.kiln.api.Canonical;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class JobValidatorTest {

  private static final YAMLMapper YAML = new YAMLMapper();
  private static final Object REMOVE = new Object();

  @Test
  void baseJobIsValid() {
    assertThat(JobValidator.validate(baseJob())).isEmpty();
  }

  static Stream<Arguments> invalidSpecs() {
    return Stream.of(
        invalid("spec.model", REMOVE, "spec.model"),
        invalid("spec.model.vision", "{imageSize: 384, patchSize: 14, width: 1152, depth: 27, heads: 16, mlpDim: 4304}", "spec.model"),
        invalid("spec.model", "{vision: {imageSize: 384, patchSize: 14, width: 1152, depth: 27, heads: 16, mlpDim: 4304}}", "spec.model"),
        invalid("spec.model", "{vision: {imageSize: 384, patchSize: 15, width: 1152, depth: 27, heads: 16, mlpDim: 4304},"
            + " languageModel: {hiddenSize: 1536, layers: 28, heads: 12, kvHeads: 2, intermediateSize: 8960, vocabSize: 151936}}",
            "spec.model.vision.patchSize"),
        invalid("spec.model", "{vision: {imageSize: 384, patchSize: 14, width: 1152, depth: 1, heads: 16, mlpDim: 4304},"
            + " languageModel: {hiddenSize: 1536, layers: 28, heads: 12, kvHeads: 2, intermediateSize: 8960, vocabSize: 151936}}",
            "spec.model.vision.depth"),
        invalid("spec.model", "{vision: {imageSize: 384, patchSize: 14, width: 1152, depth: 27, heads: 16, mlpDim: 4304},"
            + " languageModel: {hiddenSize: 1536, layers: 28, heads: 12, kvHeads: 5, intermediateSize: 8960, vocabSize: 151936}}",
            "spec.model.languageModel.kvHeads"),
        invalid("spec.model", "{vision: {imageSize: 384, patchSize: 14, width: 1152, depth: 27, heads: 16, mlpDim: 4304},"
            + " languageModel: {hiddenSize: 1536, layers: 28, heads: 7, kvHeads: 7, intermediateSize: 8960, vocabSize: 151936}}",
            "spec.model.languageModel.heads"),
        invalid("spec.model.initialWeights", "{claimName: weights, languageModel: /abs/qwen}", "spec.model.initialWeights.languageModel"),
        invalid("spec.model.initialWeights", "{languageModel: qwen}", "spec.model.initialWeights.claimName"),
        invalid("metadata.name", "Open_Qwen", "metadata.name"),
        invalid("metadata.name", "a-very-long-job-name-that-cannot-fit", "metadata.name"),
        invalid("metadata.name", "2b-recipe", "metadata.name"),
        invalid("spec.data", REMOVE, "spec.data"),
        invalid("spec.data.claimName", REMOVE, "spec.data.claimName"),
        invalid("spec.data.sources", "[]", "spec.data.sources"),
        invalid("spec.data.sources[1].name", "ccs", "spec.data.sources[1].name"),
        invalid("spec.data.sources[0].name", "CCS!", "spec.data.sources[0].name"),
        invalid("spec.data.sources[0].shards", "../escape/{0..1}.tar", "spec.data.sources[0].shards"),
        invalid("spec.data.sources[0].shards", "ccs/{00015..00000}.tar", "spec.data.sources[0].shards"),
        invalid("spec.data.sources[0].shards", "ccs/{a,b}.tar", "spec.data.sources[0].shards"),
        invalid("spec.data.sources[0].filter", "{}", "spec.data.sources[0].filter"),
        invalid("spec.data.sources[0].filter", "{clipScore: {model: clip, min: 1.5}}", "spec.data.sources[0].filter.clipScore.min"),
        invalid("spec.data.sources[0].filter", "{precomputedScore: {min: 0.3}}", "spec.data.sources[0].filter.precomputedScore.field"),
        invalid("spec.data.sources[1].filter.mlmFilter.min", 101, "spec.data.sources[1].filter.mlmFilter.min"),
        invalid("spec.data.sources[1].filter.uidList.path", REMOVE, "spec.data.sources[1].filter.uidList.path"),
        invalid("spec.data.packing.tokenizer", REMOVE, "spec.data.packing.tokenizer"),
        invalid("spec.data.packing.sequenceLength", 8, "spec.data.packing.sequenceLength"),
        invalid("spec.stages", "[]", "spec.stages"),
        invalid("spec.stages[1].name", "pretrain", "spec.stages[1].name"),
        invalid("spec.stages[0].name", "a1", "spec.stages[0].name"),
        invalid("spec.stages[1].initFrom", "later", "spec.stages[1].initFrom"),
        invalid("spec.stages[0].initFrom", "sft", "spec.stages[0].initFrom"),
        invalid("spec.stages[1].initFrom", "sft", "spec.stages[1].initFrom"),
        invalid("spec.stages[0].sources[1]", "laion", "spec.stages[0].sources[1]"),
        invalid("spec.stages[0].sources", "[]", "spec.stages[0].sources"),
        invalid("spec.stages[0].visualTokens", 140, "spec.stages[0].visualTokens"),
        invalid("spec.stages[1].visualTokens", 784, "spec.stages[1].visualTokens"),
        invalid("spec.stages[0].trainable", "[projector, projector]", "spec.stages[0].trainable"),
        invalid("spec.stages[0].optimizer.lr", 0, "spec.stages[0].optimizer.lr"),
        invalid("spec.stages[0].optimizer.lr", REMOVE, "spec.stages[0].optimizer.lr"),
        invalid("spec.stages[0].optimizer.warmupRatio", 1.0, "spec.stages[0].optimizer.warmupRatio"),
        invalid("spec.stages[0].optimizer.beta2", 1.0, "spec.stages[0].optimizer.beta2"),
        invalid("spec.stages[0].optimizer", REMOVE, "spec.stages[0].optimizer"),
        invalid("spec.stages[0].budget", "{tokens: 100, steps: 10}", "spec.stages[0].budget"),
        invalid("spec.stages[0].budget", "{}", "spec.stages[0].budget"),
        invalid("spec.stages[0].budget", "{steps: 0}", "spec.stages[0].budget.steps"),
        invalid("spec.stages[0].batch.globalBatchSize", 100, "spec.stages[0].batch.globalBatchSize"),
        invalid("spec.stages[0].resources.nodes", 0, "spec.stages[0].resources.nodes"),
        invalid("spec.stages[0].resources.gpusPerNode", 17, "spec.stages[0].resources.gpusPerNode"),
        invalid("spec.stages[0].resources.memory", "lots", "spec.stages[0].resources.memory"),
        invalid("spec.data.sources[0].resources", "{memory: lots}", "spec.data.sources[0].resources.memory"),
        invalid("spec.data.packing.resources", "{cpu: four}", "spec.data.packing.resources.cpu"),
        invalid("spec.data.packing.resources", "{gpus: 1}", "spec.data.packing.resources.gpus"),
        invalid("spec.data.sources[0].resources", "{gpus: 1}", "spec.data.sources[0].resources.gpus"),
        invalid("spec.data.sources[1].resources", "{gpus: 2}", "spec.data.sources[1].resources.gpus"),
        invalid("spec.stages[0].resources.gpuProduct", "NVIDIA A100", "spec.stages[0].resources.gpuProduct"),
        invalid("spec.stages[0].resources.topology", "{required: 'rack label'}", "spec.stages[0].resources.topology.required"),
        invalid("spec.stages[0].resources.topology", "{required: rack, preferred: block}", "spec.stages[0].resources.topology"),
        invalid("spec.stages[0].resources", "{nodes: 1, gpusPerNode: 0, gpuProduct: NVIDIA-A100-SXM4-40GB}", "spec.stages[0].resources.gpuProduct"),
        invalid("spec.stages[0].checkpointIntervalSteps", 0, "spec.stages[0].checkpointIntervalSteps"),
        invalid("spec.stages[0].maxRestarts", -1, "spec.stages[0].maxRestarts"),
        invalid("spec.stages[0].nonRetryableExitCodes", "[0, 3]", "spec.stages[0].nonRetryableExitCodes[0]"),
        invalid("spec.stages[0].promotion", "{minStep: -5}", "spec.stages[0].promotion.minStep"),
        invalid("spec.checkpoints.volumeClaim.accessModes", "[ReadWriteOnce]", "spec.checkpoints.volumeClaim.accessModes"),
        invalid("spec.checkpoints.volumeClaim.accessModes", "[ReadWriteAll]", "spec.checkpoints.volumeClaim.accessModes[0]"),
        invalid("spec.checkpoints.volumeClaim.size", "big", "spec.checkpoints.volumeClaim.size"),
        invalid("spec.checkpoints.existingClaim", "my-claim", "spec.checkpoints"),
        invalid("spec.checkpoints.keepLast", 0, "spec.checkpoints.keepLast"),
        invalid("spec.scheduling", "{queue: Research}", "spec.scheduling.queue"),
        invalid("spec.scheduling", "{priorityClassName: Research_High}", "spec.scheduling.priorityClassName"),
        invalid("spec.scheduling", "{workloadPriorityClassName: research-high}", "spec.scheduling.workloadPriorityClassName"),
        invalid("spec.ttlSecondsAfterFinished", -1, "spec.ttlSecondsAfterFinished"),
        invalid("spec.images", "{trainer: 'kiln trainer'}", "spec.images.trainer"));
  }

  @ParameterizedTest(name = "{0} = {1}")
  @MethodSource("invalidSpecs")
  void rejectsInvalidSpecNamingTheField(String path, Object value, String expectedField) {
    MultimodalPretrainJob job = mutate(path, value);

    List<Violation> violations = JobValidator.validate(job);

    assertThat(violations).extracting(Violation::field).contains(expectedField);
    assertThat(violations).allSatisfy(v -> assertThat(v.toString()).startsWith(v.field() + ": "));
  }

  @Test
  void float16MixedIsForGpuStages() {
    assertThat(JobValidator.validate(mutate("spec.stages[0].precision", "Float16Mixed"))).isEmpty();

    ObjectNode tree = baseTree();
    ObjectNode stage = (ObjectNode) tree.get("spec").get("stages").get(0);
    stage.put("precision", "Float16Mixed");
    ((ObjectNode) stage.get("resources")).put("gpusPerNode", 0).remove("gpuProduct");
    assertThat(JobValidator.validate(JobFiles.fromTree(tree, "cpu-fp16.yaml")))
        .extracting(Violation::field).containsExactly("spec.stages[0].precision");
  }

  @Test
  void gpusAreForASourceWhoseFilterHasAModelScorer() {
    assertThat(JobValidator.validate(mutate("spec.data.sources[1].resources", "{gpus: 1}")))
        .as("positive control: datacomp's mlmFilter may run on a GPU").isEmpty();
    assertThat(JobValidator.validate(mutate("spec.data.sources[0].resources", "{gpus: 1}"))).singleElement()
        .satisfies(v -> assertThat(v.toString()).isEqualTo("spec.data.sources[0].resources.gpus: only a model scorer"
            + " (filter.clipScore or filter.mlmFilter) runs on GPUs, and this source has none: its pods would hold 1"
            + " GPU(s) idle"));
  }

  @Test
  void everyFilterPodsHostnameFitsADnsLabelUpToTheLastCompletionIndex() {
    ObjectNode tree = baseTree();
    ((ObjectNode) tree.get("metadata")).put("name", "a-thirty-character-job-name-30");
    ObjectNode source = (ObjectNode) tree.get("spec").get("data").get("sources").get(0);
    source.put("name", "twenty-character-src").put("shards", "ccs/{00000..99999}.tar").put("shardsPerTask", 10);
    ((ArrayNode) tree.get("spec").get("stages").get(0).get("sources")).set(0,
        "twenty-character-src");
    assertThat(JobValidator.validate(JobFiles.fromTree(tree, "job.yaml"))).as("last index 9999: 63 characters").isEmpty();

    source.put("shardsPerTask", 1);
    assertThat(JobValidator.validate(JobFiles.fromTree(tree, "job.yaml"))).containsExactly(new Violation(
        "spec.data.sources[0].name", "the filter pods' hostnames reach 64 characters"
            + " (a-thirty-character-job-name-30-filter-twenty-character-src-99999, at most 63): shorten the job's or the"
            + " source's name, or raise shardsPerTask (1) for fewer than 100000 tasks"));
  }

  @Test
  void thereAreAtLeastThirtyInvalidSpecs() {
    assertThat(invalidSpecs().count()).isGreaterThanOrEqualTo(30);
  }

  @Test
  void unknownFieldsAreRejectedWithTheirPath() {
    ObjectNode tree = baseTree();
    ((ObjectNode) tree.at("/spec/stages/0/optimizer")).put("learningRate", 0.1);

    assertThatThrownBy(() -> JobFiles.fromTree(tree, "job.yaml"))
        .hasMessage("job.yaml: spec.stages[0].optimizer: unknown field \"learningRate\"");
  }

  @Test
  void wrongTypesAreRejectedWithTheirPath() {
    ObjectNode tree = baseTree();
    ((ObjectNode) tree.at("/spec/stages/1/resources")).put("nodes", "two");

    assertThatThrownBy(() -> JobFiles.fromTree(tree, "job.yaml"))
        .hasMessageStartingWith("job.yaml: spec.stages[1].resources.nodes: ");
  }

  @Test
  void wrongKindIsRejected() {
    ObjectNode tree = baseTree();
    tree.put("kind", "PyTorchJob");

    assertThatThrownBy(() -> JobFiles.fromTree(tree, "job.yaml"))
        .hasMessage("job.yaml: kind: expected MultimodalPretrainJob, found \"PyTorchJob\"");
  }

  @Test
  void aStartedStageChangesOnlyWhatItsNextAttemptCanTake() {
    MultimodalPretrainJob job = baseJob();
    MultimodalPretrainJobStatus status = new MultimodalPretrainJobStatus();
    StageStatus pretrain = new StageStatus();
    pretrain.setName("pretrain");
    pretrain.setSpecHash(JobValidator.stageHash(job.getSpec().stages().get(0)));
    status.getStages().add(pretrain);
    ReproducibilityStatus reproducibility = new ReproducibilityStatus();
    reproducibility.setModelHash(Canonical.sha256(job.getSpec().model()));
    status.setReproducibility(reproducibility);
    assertThat(JobValidator.validateChange(job.getSpec(), status)).isEmpty();

    MultimodalPretrainJob gateEdited = mutate("spec.stages[0].promotion", "{mode: Manual, approved: true}");
    assertThat(JobValidator.validateChange(gateEdited.getSpec(), status)).isEmpty();

    for (String recovery : List.of("optimizer.lr", "optimizer.warmupRatio", "resources.memory", "batch.microBatchSize",
        "maxRestarts", "checkpointIntervalSteps")) {
      Object value = recovery.startsWith("optimizer") ? (Object) 1.0e-4 : recovery.equals("resources.memory") ? "99Gi" : 1;
      assertThat(JobValidator.validateChange(mutate("spec.stages[0]." + recovery, value).getSpec(), status))
          .as(recovery).isEmpty();
    }
    for (String pinned : List.of("optimizer.weightDecay", "batch.globalBatchSize", "resources.nodes")) {
      assertThat(JobValidator.validateChange(mutate("spec.stages[0]." + pinned, 3).getSpec(), status)).as(pinned)
          .extracting(Violation::field).containsExactly("spec.stages[0]");
    }

    MultimodalPretrainJob modelEdited = mutate("spec.model.preset", "small");
    assertThat(JobValidator.validateChange(modelEdited.getSpec(), status)).extracting(Violation::field)
        .containsExactly("spec.model");
  }

  // --- helpers -------------------------------------------------------------------------------

  @Test
  void hybridShardingIsRefusedAcrossNodesUntilItShardsWithinEachNode() throws IOException {
    ObjectNode tree = baseTree();
    ObjectNode stage = (ObjectNode) tree.at("/spec/stages/0");
    stage.put("sharding", "HYBRID_SHARD");
    ((ObjectNode) stage.get("resources")).put("nodes", 1);
    assertThat(JobValidator.validate(JobFiles.fromTree(tree, "one-node"))).isEmpty();

    ((ObjectNode) stage.get("resources")).put("nodes", 2);
    assertThat(JobValidator.validate(JobFiles.fromTree(tree, "two-nodes")))
        .extracting(Violation::field).containsExactly("spec.stages[0].sharding");
  }

  @Test
  void ncclIsForGpuStagesOnly() throws IOException {
    ObjectNode tree = baseTree();
    ObjectNode stage = (ObjectNode) tree.at("/spec/stages/0");
    stage.put("collectives", "Nccl");
    ((ObjectNode) stage.get("resources")).put("gpusPerNode", 8);
    assertThat(JobValidator.validate(JobFiles.fromTree(tree, "gpu"))).isEmpty();

    ((ObjectNode) stage.get("resources")).put("gpusPerNode", 0).remove("gpuProduct");
    stage.remove("precision");
    assertThat(JobValidator.validate(JobFiles.fromTree(tree, "cpu")))
        .extracting(Violation::field).containsExactly("spec.stages[0].collectives");
  }

  private static Arguments invalid(String path, Object value, String expectedField) {
    return Arguments.of(path, value, expectedField);
  }

  @Test
  void podSettingsAreCheckedAndMayNotReplaceWhatKilnSets() throws IOException {
    ObjectNode tree = baseTree();
    ((ObjectNode) tree.at("/spec/stages/0")).set("pod", YAML.readTree("""
        nodeSelector: {pool: p5}
        tolerations: [{key: dedicated, operator: Exists, value: x}]
        priorityClassName: Research_High
        extraResources: {rdma/ib: "1", nvidia.com/gpu: "8", hugepages: "2"}
        labels: {kiln.dev/job: other, team: vision}
        annotations: {k8s.v1.cni.cncf.io/networks: ib}
        env: [{name: KILN_ATTEMPT, value: "9"}, {name: NCCL_DEBUG, value: WARN}]
        """));
    ((ObjectNode) tree.at("/spec/data")).set("pod", YAML.readTree("{nodeSelector: {pool: cpu}, serviceAccountName: loader}"));

    List<Violation> violations = JobValidator.validate(dev.kiln.api.JobFiles.fromTree(tree, "pod-settings"));

    assertThat(violations).extracting(Violation::field).containsExactlyInAnyOrder(
        "spec.stages[0].pod.tolerations[0].value", "spec.stages[0].pod.priorityClassName",
        "spec.stages[0].pod.extraResources[nvidia.com/gpu]", "spec.stages[0].pod.extraResources[hugepages]",
        "spec.stages[0].pod.labels[kiln.dev/job]", "spec.stages[0].pod.env[0].name");
    assertThat(violations).filteredOn(v -> v.field().endsWith("env[0].name")).extracting(Violation::message)
        .containsExactly("KILN_ATTEMPT is set by Kiln");
  }

  static ObjectNode baseTree() {
    try (InputStream in = JobValidatorTest.class.getResourceAsStream("/base-job.yaml")) {
      return (ObjectNode) YAML.readTree(in);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static MultimodalPretrainJob baseJob() {
    return JobFiles.fromTree(baseTree(), "base-job.yaml");
  }

  private static final Pattern STEP = Pattern.compile("([A-Za-z][A-Za-z0-9]*)(?:\\[(\\d+)])?");

  /** The base job with the value at a dotted path replaced (YAML text is parsed) or removed. */
  static MultimodalPretrainJob mutate(String path, Object value) {
    ObjectNode root = baseTree();
    String[] steps = path.split("\\.");
    JsonNode parent = root;
    for (int i = 0; i < steps.length - 1; i++) {
      parent = child(parent, steps[i]);
    }
    Matcher last = STEP.matcher(steps[steps.length - 1]);
    if (!last.matches()) {
      throw new IllegalArgumentException(path);
    }
    JsonNode replacement = value == REMOVE ? null : parseValue(value);
    if (last.group(2) == null) {
      if (replacement == null) {
        ((ObjectNode) parent).remove(last.group(1));
      } else {
        ((ObjectNode) parent).set(last.group(1), replacement);
      }
    } else {
      ArrayNode array = (ArrayNode) parent.get(last.group(1));
      array.set(Integer.parseInt(last.group(2)), replacement);
    }
    return JobFiles.fromTree(root, "mutated");
  }

  private static JsonNode child(JsonNode node, String step) {
    Matcher m = STEP.matcher(step);
    if (!m.matches()) {
      throw new IllegalArgumentException(step);
    }
    JsonNode child = node.get(m.group(1));
    if (child == null) {
      child = ((ObjectNode) node).putObject(m.group(1));
    }
    return m.group(2) == null ? child : child.get(Integer.parseInt(m.group(2)));
  }

  private static JsonNode parseValue(Object value) {
    try {
      return value instanceof String s ? YAML.readTree(s) : YAML.valueToTree(value);
    } catch (IOException e) {
      throw new IllegalArgumentException(e);
    }
  }
}
