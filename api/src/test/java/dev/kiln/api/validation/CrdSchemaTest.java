package dev.kiln.api.validation;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The generated CRD's own schema and CEL rules, evaluated the way the API server does. */
class CrdSchemaTest {

  private final CrdSchema crd = CrdSchema.multimodalPretrainJob();

  @Test
  void theBaseJobPasses() {
    assertThat(crd.validate(JobValidatorTest.baseTree())).isEmpty();
  }

  @Test
  void everyRuleOfTheCrdIsLoadedAndCompiles() {
    assertThat(crd.rules()).extracting(CrdSchema.Rule::path).containsExactlyInAnyOrder(
        "", "", "spec", "spec", "spec", "spec", "spec.checkpoints", "spec.data", "spec.data.sources[].filter", "spec.model",
        "spec.model", "spec.reproduce",
        "spec.stages[].budget", "spec.stages[].resources.topology");
  }

  @Test
  void theQueueAndModeCannotChangeOnceAStageHasStartedButMayWhileTheJobWaits() {
    ObjectNode waiting = JobValidatorTest.baseTree().deepCopy();
    ((ObjectNode) waiting.path("spec")).putObject("scheduling").put("queue", "research");
    ObjectNode moved = waiting.deepCopy();
    ((ObjectNode) moved.at("/spec/scheduling")).put("queue", "vision");
    assertThat(crd.validate(moved, waiting)).as("no stage started: it may move").isEmpty();

    ObjectNode started = waiting.deepCopy();
    started.putObject("status").putArray("stages").addObject().put("name", "pretrain").put("startTime",
        "2026-12-05T00:00:00Z");
    ObjectNode movedAfterStart = moved.deepCopy();
    movedAfterStart.set("status", started.get("status"));
    assertThat(crd.validate(movedAfterStart, started)).extracting(Violation::field).containsExactly("spec.scheduling");
    ObjectNode kueue = started.deepCopy();
    ((ObjectNode) kueue.at("/spec/scheduling")).put("mode", "Kueue");
    assertThat(crd.validate(kueue, started)).extracting(Violation::message).singleElement().asString()
        .startsWith("spec.scheduling.mode and spec.scheduling.queue cannot change once a stage has started");
    ObjectNode sameQueue = started.deepCopy();
    ((ObjectNode) sameQueue.at("/spec/scheduling")).put("priorityClassName", "research-high");
    assertThat(crd.validate(sameQueue, started)).as("positive control: other scheduling fields may change").isEmpty();
  }

  @Test
  void aQueueInACohortNeedsAQuotaAndLendsNoMoreThanIt() throws Exception {
    CrdSchema queues = CrdSchema.fromResource(dev.kiln.api.Crds.QUEUES);
    var yaml = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper();
    java.util.function.Function<String, List<String>> refused = spec -> {
      try {
        return queues.validate(yaml.readTree("{apiVersion: kiln.dev/v1alpha1, kind: TrainingQueue, metadata: {name: q},"
            + " spec: " + spec + "}"), null).stream().map(v -> v.field() + ": " + v.message()).toList();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    };
    assertThat(refused.apply("{cohort: lab, gpuQuota: 8, borrowingLimit: 8, lendingLimit: 4, reclaimWithinCohort: Any}"))
        .isEmpty();
    assertThat(refused.apply("{cohort: lab}")).containsExactly(
        "spec.gpuQuota: a queue in a cohort needs gpuQuota: its nominal share of the cohort's GPUs");
    assertThat(refused.apply("{gpuQuota: 8, borrowingLimit: 8}")).containsExactly(
        "spec.cohort: borrowingLimit and lendingLimit are for a queue in a cohort");
    assertThat(refused.apply("{cohort: lab, gpuQuota: 8, lendingLimit: 9}")).containsExactly(
        "spec.lendingLimit: lendingLimit cannot be more than gpuQuota");
    assertThat(refused.apply("{cohort: lab, gpuQuota: 8, resourceQuotas: {cpu: {nominal: \"96\", borrowingLimit: \"32\","
        + " lendingLimit: \"48\"}, memory: {nominal: 1Ti}}}")).isEmpty();
    assertThat(refused.apply("{gpuQuota: 8, resourceQuotas: {cpu: {nominal: \"96\", lendingLimit: \"48\"}}}"))
        .containsExactly("spec.resourceQuotas: borrowingLimit and lendingLimit are for a queue in a cohort");
    assertThat(refused.apply("{cohort: lab, gpuQuota: 8, resourceQuotas: {cpu: {nominal: \"96\", lendingLimit: \"96\"},"
        + " memory: {nominal: 1Ti, lendingLimit: 1024Gi}}}")).as("at most nominal, in any unit").isEmpty();
    assertThat(refused.apply("{cohort: lab, gpuQuota: 8, resourceQuotas: {memory: {nominal: 1Ti, lendingLimit: 1.1T}}}"))
        .containsExactly("spec.resourceQuotas: a resource's lendingLimit cannot be more than its nominal quota");
    assertThat(refused.apply("{cohort: lab, gpuQuota: 8, resourceQuotas: {cpu: {nominal: 500m, lendingLimit: \"1\"}}}"))
        .containsExactly("spec.resourceQuotas: a resource's lendingLimit cannot be more than its nominal quota");
    assertThat(refused.apply("{resourceQuotas: {ephemeral-storage: {nominal: 1Ti}}}"))
        .containsExactly("spec.resourceQuotas: quotas besides gpuQuota are of cpu and memory");
  }

  @Test
  void theNameRuleTheOperatorKeepsIsTheApiServersToo() {
    for (String name : List.of("a-job-name-of-thirty-one-chars1", "9lives", "Upper")) {
      ObjectNode job = JobValidatorTest.baseTree();
      ((ObjectNode) job.path("metadata")).put("name", name);
      assertThat(crd.validate(job)).as(name).extracting(Violation::message).singleElement().asString()
          .startsWith("metadata.name must be a DNS label of at most 30 characters");
      assertThat(JobValidator.validate(dev.kiln.api.JobFiles.fromTree(job, name))).as(name)
          .extracting(Violation::field).contains("metadata.name");
    }
    ObjectNode thirty = JobValidatorTest.baseTree();
    ((ObjectNode) thirty.path("metadata")).put("name", "a-job-name-of-thirty-chars-ok0");
    assertThat(crd.validate(thirty)).isEmpty();
  }

  @Test
  void aPinMustNameAStageAndBeASha256() {
    ObjectNode pinned = JobValidatorTest.baseTree();
    String stage = pinned.at("/spec/stages/0/name").asText();
    ObjectNode reproduce = ((ObjectNode) pinned.path("spec")).putObject("reproduce");
    reproduce.putArray("packedData").addObject().put("stage", stage).put("manifestSha256", "a".repeat(64));
    assertThat(crd.validate(pinned)).as("positive control").isEmpty();

    ((ObjectNode) reproduce.at("/packedData/0")).put("stage", "no-such-stage");
    assertThat(crd.validate(pinned)).containsExactly(
        new Violation("spec", "reproduce.packedData: each stage must name a stage of spec.stages"));
    ((ObjectNode) reproduce.at("/packedData/0")).put("stage", stage).put("manifestSha256", "A".repeat(64));
    assertThat(crd.validate(pinned)).extracting(Violation::field).containsExactly("spec.reproduce.packedData[0].manifestSha256");
    ((ObjectNode) reproduce.at("/packedData/0")).put("manifestSha256", "a".repeat(64));
    ((ArrayNode) reproduce.get("packedData")).addObject().put("stage", stage).put("manifestSha256", "c".repeat(64));
    assertThat(crd.validate(pinned)).containsExactly(new Violation("spec.reproduce", "packedData: one pin per stage"));
    ((ArrayNode) reproduce.get("packedData")).remove(1);
    reproduce.put("initialWeightsSha256", "b".repeat(64));
    assertThat(crd.validate(pinned)).as("pins initial weights the job does not have").containsExactly(new Violation("spec",
        "reproduce.initialWeightsSha256: pins spec.model.initialWeights, which this job does not set"));
  }

  @Test
  void celRulesRejectWhatTheyDescribe() {
    ObjectNode dupSource = JobValidatorTest.baseTree();
    ((ObjectNode) dupSource.at("/spec/data/sources/1")).put("name", "ccs");
    assertThat(crd.validate(dupSource)).containsExactly(new Violation("spec.data", "sources: source names must be unique"));

    ObjectNode laterInit = JobValidatorTest.baseTree();
    ((ObjectNode) laterInit.at("/spec/stages/0")).put("initFrom", "sft");
    assertThat(crd.validate(laterInit)).containsExactly(new Violation("spec", "stages: initFrom must name an earlier stage"));

    ObjectNode twoBudgets = JobValidatorTest.baseTree();
    ((ObjectNode) twoBudgets.at("/spec/stages/1/budget")).put("tokens", 1000).put("steps", 10);
    assertThat(crd.validate(twoBudgets)).extracting(Violation::field).containsExactly("spec.stages[1].budget");

    ObjectNode presetAndVision = JobValidatorTest.baseTree();
    ((ObjectNode) presetAndVision.at("/spec/model")).putObject("vision").put("imageSize", 384).put("patchSize", 14)
        .put("width", 1152).put("depth", 27).put("heads", 16).put("mlpDim", 4304);
    assertThat(crd.validate(presetAndVision)).extracting(Violation::field).containsExactly("spec.model");
  }

  @Test
  void schemaBoundsAndPatternsAreEnforcedWithTheFieldPath() {
    ObjectNode tree = JobValidatorTest.baseTree();
    ObjectNode resources = (ObjectNode) tree.at("/spec/stages/0/resources");
    resources.put("cpu", "-2");
    resources.put("nodes", 0);
    ((ObjectNode) tree.at("/spec/data/sources/0")).put("shardsPerTask", 100_001);
    ((ObjectNode) tree.at("/spec/stages/1")).put("name", "x".repeat(21));

    List<Violation> violations = crd.validate(tree);

    assertThat(violations).extracting(Violation::field).contains("spec.stages[0].resources.cpu",
        "spec.stages[0].resources.nodes", "spec.data.sources[0].shardsPerTask", "spec.stages[1].name");
  }

  @Test
  void requiredFieldsAreNamed() {
    ObjectNode tree = JobValidatorTest.baseTree();
    ((ObjectNode) tree.at("/spec/stages/0")).remove("optimizer");

    assertThat(crd.validate(tree)).containsExactly(new Violation("spec.stages[0].optimizer", "required"));
  }

  @Test
  void defaultsAreAppliedBeforeTheRules() {
    ObjectNode tree = JobValidatorTest.baseTree();
    ((ObjectNode) tree.at("/spec/stages/0")).remove("sharding");

    JsonNode defaulted = crd.withDefaults(tree);

    assertThat(defaulted.at("/spec/stages/0/sharding").asText()).isEqualTo("FULL_SHARD");
    assertThat(tree.at("/spec/stages/0/sharding").isMissingNode()).isTrue();
  }

  @Test
  void transitionRulesRunOnUpdatesOnly() {
    ObjectNode old = JobValidatorTest.baseTree();
    ObjectNode changed = old.deepCopy();
    ((ObjectNode) changed.at("/spec/model")).put("preset", "small");

    assertThat(crd.validate(changed)).isEmpty();
    assertThat(crd.validate(changed, old)).containsExactly(new Violation("spec.model", "model is immutable"));
    assertThat(crd.validate(old, old)).isEmpty();
  }

  @Test
  void itemsOfAListAreEachChecked() {
    ObjectNode tree = JobValidatorTest.baseTree();
    ArrayNode sources = (ArrayNode) tree.at("/spec/data/sources");
    ((ObjectNode) sources.get(0)).putObject("filter");

    assertThat(crd.validate(tree)).containsExactly(
        new Violation("spec.data.sources[0].filter", "set at least one of clipScore, precomputedScore, uidList, mlmFilter"));
  }
}
