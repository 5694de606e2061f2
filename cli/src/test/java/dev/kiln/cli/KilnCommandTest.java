package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command-line contract: exit codes and the shape of every line. */
class KilnCommandTest {

  @TempDir
  Path dir;

  record Result(int exit, String out, String err) {}

  static Result kiln(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = KilnCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int exit = cli.execute(args);
    return new Result(exit, out.toString(), err.toString());
  }

  static String example(String name) {
    Path root = Path.of("").toAbsolutePath();
    while (!Files.isDirectory(root.resolve("examples"))) {
      root = root.getParent();
    }
    return root.resolve("examples").resolve(name).toString();
  }

  @Test
  void exportIsReachableAndAMissingInputIsOneLineNamingIt() {
    Result r = kiln("export", "--checkpoint", dir.resolve("nothere").toString(), "--config",
        dir.resolve("run.json").toString(), "--output", dir.resolve("out").toString());

    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err().strip().lines()).containsExactly("kiln export: " + dir.resolve("run.json")
        + ": cannot read run config: " + dir.resolve("run.json") + " (No such file or directory)",
        "(KILN_DEBUG=1 shows where it happened)");
  }

  @Test
  void validJobsPrintValidAndExitZero() {
    Result r = kiln("validate", example("quickstart.yaml"), example("open-qwen2vl.yaml"));

    assertThat(r.exit()).isZero();
    assertThat(r.out().lines()).containsExactly("valid", "valid");
  }

  @Test
  void queuesAreValidatedAgainstTheirCrdNamingTheField() throws IOException {
    Result valid = kiln("validate", example("queues/research.yaml"));
    assertThat(valid.exit()).isZero();
    assertThat(valid.out().lines()).containsExactly("valid");
    assertThat(valid.err()).contains("(TrainingQueue research)");

    Path bad = dir.resolve("queue.yaml");
    Files.writeString(bad, Files.readString(Path.of(example("queues/research.yaml")))
        .replace("strategy: BestEffortFIFO", "strategy: Random"));
    Result invalid = kiln("validate", bad.toString());
    assertThat(invalid.exit()).isEqualTo(1);
    assertThat(invalid.out()).startsWith("spec.strategy: ");
  }

  @Test
  void aJobGivenWithAQueueThatDoesNotAdmitItsNamespaceIsRefusedNamingBoth() throws IOException {
    Path queue = dir.resolve("vision-queue.yaml");
    Files.writeString(queue, """
        apiVersion: kiln.dev/v1alpha1
        kind: TrainingQueue
        metadata:
          name: vision
        spec:
          namespaceSelector:
            matchExpressions:
              - {key: kubernetes.io/metadata.name, operator: In, values: [vision-team]}
        """);
    String quickstart = Files.readString(Path.of(example("quickstart.yaml")));
    Path job = dir.resolve("job.yaml");
    Files.writeString(job, quickstart.replace("  name: quickstart\n", "  name: quickstart\n  namespace: research\n")
        .replaceFirst("\nspec:\n", "\nspec:\n  scheduling:\n    queue: vision\n"));

    Result refused = kiln("validate", job.toString(), queue.toString());
    assertThat(refused.exit()).isEqualTo(1);
    assertThat(refused.out().lines()).contains("spec.scheduling.queue: TrainingQueue vision does not admit namespace"
        + " research (its namespaceSelector: kubernetes.io/metadata.name in (vision-team))");

    Files.writeString(job, Files.readString(job).replace("namespace: research", "namespace: vision-team"));
    assertThat(kiln("validate", job.toString(), queue.toString()).exit()).as("positive control: its namespace").isZero();

    Files.writeString(job, Files.readString(job).replace("namespace: vision-team", "namespace: research"));
    Files.writeString(queue, Files.readString(queue).replace("kubernetes.io/metadata.name, operator: In, values:"
        + " [vision-team]", "team, operator: In, values: [vision]"));
    Result undecided = kiln("validate", job.toString(), queue.toString());
    assertThat(undecided.exit()).as("the namespace's labels are the API server's to know").isZero();
    assertThat(undecided.err()).contains("warning: TrainingQueue vision admits namespaces by their labels (team)");
  }

  @Test
  void invalidJobPrintsOneLinePerProblemStartingWithTheFieldAndExitsOne() throws IOException {
    Path bad = dir.resolve("bad.yaml");
    Files.writeString(bad, Files.readString(Path.of(example("quickstart.yaml")))
        .replace("visualTokens: 64", "visualTokens: 63")
        .replace("initFrom: pretrain", "initFrom: warmup"));

    Result r = kiln("validate", bad.toString());

    assertThat(r.exit()).isEqualTo(1);
    // First what the API server would answer (the CRD's CEL rule on spec), then the operator's checks.
    assertThat(r.out().lines()).containsExactly(
        "spec: stages: initFrom must name an earlier stage",
        "spec.stages[1].visualTokens: must be a perfect square (the pooled patch grid is square), found 63",
        "spec.stages[1].initFrom: must name an earlier stage (one of [pretrain]), found \"warmup\"");
    assertThat(r.err()).contains("bad.yaml (quickstart):");
  }

  @Test
  void unknownFieldIsReportedByPath() throws IOException {
    Path bad = dir.resolve("typo.yaml");
    Files.writeString(bad, Files.readString(Path.of(example("quickstart.yaml")))
        .replace("checkpointIntervalSteps: 100\n    - name: sft", "checkpointEvery: 100\n    - name: sft"));

    Result r = kiln("validate", bad.toString());

    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.out().strip()).isEqualTo("spec.stages[0]: unknown field \"checkpointEvery\"");
  }

  @Test
  void aFileThatIsNotThereOrNotAFileIsNamedWithWhatIsWrong() {
    String absent = dir.resolve("absent.yaml").toString();
    for (String command : new String[] {"validate", "run", "estimate"}) {
      Result r = kiln(command, absent);

      assertThat(r.exit()).as(command).isEqualTo(1);
      assertThat(r.out().strip()).as(command).isEqualTo("(file): " + absent + " does not exist");
    }
    Result folder = kiln("run", dir.toString());
    assertThat(folder.exit()).isEqualTo(1);
    assertThat(folder.out().strip()).isEqualTo("(file): " + dir + " is a folder, not a YAML file");
  }

  @Test
  void aWorkdirThatCannotBeMadeIsOneLineNotAStackTrace() throws IOException {
    Path file = Files.writeString(dir.resolve("afile"), "");

    Result r = kiln("run", example("quickstart.yaml"), "--workdir", file.resolve("run").toString());

    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err().lines()).containsExactly("kiln run: " + file.resolve("run") + ": Not a directory",
        "(KILN_DEBUG=1 shows where it happened)");
  }

  @Test
  void runRefusesAJobWhoseDataIsNotThereBeforeStartingAnything() {
    Path workdir = dir.resolve("work");

    Result r = kiln("run", example("open-qwen2vl.yaml"), "--workdir", workdir.toString());

    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.out()).contains("kiln run: cannot start; nothing was started:")
        .contains("claim datasets (no --claim datasets=DIR given, so kiln run looked in " + workdir.resolve("data/datasets")
            + ") is empty: the job reads")
        .contains("spec.data.sources[0].shards ccs_webdataset/{00000..01302}.tar: none of the 1303 shard(s) exist")
        .contains("--claim datasets=DIR").contains("--claim model-weights=DIR");
    assertThat(workdir.resolve("cluster")).as("no cluster was started").doesNotExist();
  }

  @Test
  void crdPrintsTheGeneratedDefinitions() {
    Result r = kiln("crd");

    assertThat(r.exit()).isZero();
    var documents = io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
        new java.io.ByteArrayInputStream(r.out().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    assertThat(documents).as("two YAML documents").isInstanceOf(java.util.List.class);
    assertThat(r.out()).contains("kind: \"CustomResourceDefinition\"").contains("name: \"multimodalpretrainjobs.kiln.dev\"")
        .contains("- \"mpj\"").contains("name: \"trainingqueues.kiln.dev\"").contains("scope: \"Cluster\"");
  }

  @Test
  void runRejectsTwoJobsOfOneNameBeforeStartingAnything() {
    Result r = kiln("run", example("quickstart.yaml"), example("quickstart.yaml"), "--workdir",
        dir.resolve("run").toString());

    assertThat(r.exit()).isEqualTo(ValidateCommand.INVALID);
    assertThat(r.out()).contains("metadata.name: two MultimodalPretrainJobs are named quickstart");
    assertThat(dir.resolve("run")).doesNotExist();
  }

  @Test
  void runRejectsAnInvalidJobBeforeStartingAnything() throws IOException {
    Path bad = dir.resolve("bad.yaml");
    Files.writeString(bad, Files.readString(Path.of(example("quickstart.yaml"))).replace("visualTokens: 64", "visualTokens: 63"));

    Result r = kiln("run", bad.toString(), "--workdir", dir.resolve("run").toString());

    assertThat(r.exit()).isEqualTo(ValidateCommand.INVALID);
    assertThat(r.out()).contains("spec.stages[1].visualTokens: must be a perfect square");
    assertThat(dir.resolve("run")).doesNotExist();
  }

  @Test
  void estimateOfTheRecipeLandsNearThePapersA100Hours() throws IOException {
    Result r = kiln("estimate", example("open-qwen2vl.yaml"), "--tokens", "pretrain=5e9", "--json");

    assertThat(r.exit()).isZero();
    var line = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
    var pretrain = line.get("stages").get(0);
    // The paper: 220 (v2) to 442 (v1) A100-40G hours for 5B packed tokens; about 14 GFLOP per token.
    assertThat(pretrain.get("flops_per_token").asDouble()).isBetween(12e9, 16e9);
    assertThat(pretrain.get("gpu_hours").asDouble()).isBetween(150.0, 450.0);
    assertThat(pretrain.get("wall_hours").asDouble()).isCloseTo(pretrain.get("gpu_hours").asDouble() / 8, within(1e-6));
    // Its 29M pre-training samples: 5e9 tokens of 144 visual and about 28 text tokens each.
    var packing = pretrain.get("packing");
    assertThat(packing.get("samples").asDouble()).isBetween(28e6, 30e6);
    assertThat(packing.get("pods").asInt()).isEqualTo(32);
    assertThat(packing.get("cpu_hours").asDouble())
        .isCloseTo(packing.get("samples").asDouble() / dev.kiln.api.sizing.PackingSizing.PREPARE_IMAGES_PER_CORE_SECOND
            / 3600, within(1e-6));
    assertThat(packing.get("wall_hours").asDouble()).isCloseTo(packing.get("cpu_hours").asDouble() / 32, within(1e-6));
    assertThat(line.get("stages").get(1).has("packing")).as("sft: no tokens given, no sample count").isFalse();
  }

  @Test
  void theRecipeFitsItsA100sOnlyWithRecomputationAndValidateSaysWhatToChange() throws IOException {
    Path kept = dir.resolve("kept.yaml");
    Files.writeString(kept, Files.readString(Path.of(example("open-qwen2vl.yaml")))
        .replaceAll("\\n *recomputeActivations: true[^\\n]*", ""));

    var recipe = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
        kiln("estimate", example("open-qwen2vl.yaml"), "--json").out()).get("stages");
    var withoutRecomputation = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
        kiln("estimate", kept.toString(), "--json").out()).get("stages");

    for (var stage : recipe) {
      assertThat(stage.get("gpu_memory_gib").asDouble()).isEqualTo(40.0);
      assertThat(stage.get("fits").asBoolean()).as(stage.toString()).isTrue();
      assertThat(stage.get("memory_gib_per_gpu").asDouble()).isBetween(20.0, 40.0);
    }
    for (var stage : withoutRecomputation) {
      assertThat(stage.get("fits").asBoolean()).as(stage.toString()).isFalse();
    }
    assertThat(kiln("validate", example("open-qwen2vl.yaml")).err()).doesNotContain("warning");
    Result warned = kiln("validate", kept.toString());
    assertThat(warned.exit()).isZero();
    assertThat(warned.err()).contains("warning: spec.stages[0]: needs about", "more than the 40.0 GiB of NVIDIA-A100-SXM4-40GB",
        "try recomputeActivations: true, packedAttention: PerSample");
  }

  @Test
  void estimateOfAFloat32StageUsesTheFp32Peak() throws IOException {
    Path float32 = dir.resolve("float32.yaml");
    Files.writeString(float32, Files.readString(Path.of(example("open-qwen2vl.yaml"))).replace("precision: Float16Mixed",
        "precision: Float32"));

    var mixed = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
        kiln("estimate", example("open-qwen2vl.yaml"), "--tokens", "pretrain=5e9", "--json").out()).get("stages").get(0);
    var full = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
        kiln("estimate", float32.toString(), "--tokens", "pretrain=5e9", "--json").out()).get("stages").get(0);

    // A100: 312 TFLOP/s on fp16 tensor cores, 19.5 in fp32.
    assertThat(full.get("gpu_hours").asDouble() / mixed.get("gpu_hours").asDouble()).isCloseTo(312 / 19.5, within(1e-6));
    assertThat(full.get("note").asText()).contains("Float32: fp32 peak");
  }

  @Test
  void estimateSaysWhatItNeedsForABudgetInEpochs() {
    Result r = kiln("estimate", example("open-qwen2vl.yaml"));

    assertThat(r.exit()).isZero();
    assertThat(r.out()).contains("pretrain   budget is in epochs: give the tokens per epoch with --tokens pretrain=N");
  }

  @Test
  void statusOfAFolderWithNoRunSaysSo() {
    Result r = kiln("status", dir.toString());

    assertThat(r.exit()).isEqualTo(StatusCommand.NO_RUN);
    assertThat(r.out()).contains("no local run here");
  }

  @Test
  void statusExitsNonZeroForAFailedJobAndZeroForOneOnItsWay() throws IOException {
    Files.writeString(dir.resolve("summary.json"), "{\"job\":\"q\",\"phase\":\"Failed\",\"reason\":\"DataPrepFailed\","
        + "\"message\":\"no shards\",\"seconds\":3.0,\"stages\":[]}");
    assertThat(kiln("status", dir.toString()).exit()).isEqualTo(RunCommand.JOB_FAILED);

    Files.writeString(dir.resolve("summary.json"), "{\"job\":\"q\",\"phase\":\"Succeeded\",\"seconds\":3.0,\"stages\":[]}");
    assertThat(kiln("status", dir.toString()).exit()).isZero();

    Files.delete(dir.resolve("summary.json"));
    Files.writeString(dir.resolve("status.json"), "{\"phase\":\"Training\",\"stage\":\"pretrain\",\"message\":\"step 3\"}");
    assertThat(kiln("status", dir.toString()).exit()).isZero();
    Files.writeString(dir.resolve("status.json"), "{\"phase\":\"Failed\",\"message\":\"restarts exhausted\"}");
    Result failed = kiln("status", dir.toString());
    assertThat(failed.exit()).isEqualTo(RunCommand.JOB_FAILED);
    assertThat(failed.out()).contains("Failed").contains("restarts exhausted");
  }

  @Test
  void benchPackingPrintsOneJsonLineWithTheMeasuredFill() throws IOException {
    Result r = kiln("bench", "packing", "--samples", "20000");

    assertThat(r.exit()).isZero();
    var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out().strip());
    assertThat(json.get("bench").asText()).isEqualTo("packing");
    assertThat(json.get("fill").asDouble()).isBetween(0.9, 1.0);
    assertThat(json.get("samples_per_s").asLong()).isPositive();
    assertThat(json.get("ffd_fill").asDouble()).as("the recipe's plan, for comparison").isBetween(0.9, 1.0)
        .isLessThan(json.get("fill").asDouble());
    assertThat(json.get("ffd_samples_per_s").asLong()).isPositive();
  }

  @Test
  void benchTrainerMeasuresBothPrecisions() throws IOException {
    for (String precision : new String[] {"Float32", "Float16Mixed"}) {
      Result r = kiln("bench", "trainer", "--preset", "tiny", "--seq-len", "64", "--steps", "2", "--precision", precision);

      assertThat(r.exit()).as(r.err()).isZero();
      var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out().strip());
      assertThat(json.get("precision").asText()).isEqualTo(precision.equals("Float32") ? "FLOAT32" : "FLOAT16_MIXED");
      // Sanity, not speed: the ratio is whatever this machine gives, but it is a ratio of the two printed rates.
      double mfu = json.get("mfu").asDouble();
      assertThat(mfu).isPositive().isFinite();
      assertThat(json.get("model_gflops").asDouble() / json.get("matmul_gflops").asDouble())
          .isCloseTo(mfu, org.assertj.core.data.Percentage.withPercentage(10));
      assertThat(json.get("first_loss").asDouble()).isBetween(5.0, 7.5);  // about ln(512) for the tiny vocabulary
    }
  }

  @Test
  void benchCollectivesOnNcclWithoutCudaSaysWhichLibraryIsMissing() throws IOException {
    // What this machine has decides what is asserted: with an NVIDIA driver, NCCL may well work.
    org.junit.jupiter.api.Assumptions.assumeFalse(java.nio.file.Files.exists(Path.of("/proc/driver/nvidia/version")),
        "an NVIDIA driver is loaded here: the missing-library message cannot be checked");
    Result r = kiln("bench", "collectives", "--backend", "nccl", "--ranks", "1", "--megabytes", "1");

    // No working all-reduce is a failed measurement: the exit code says so, not only the JSON.
    assertThat(r.exit()).isEqualTo(1);
    var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out().strip());
    assertThat(json.get("correct").asBoolean()).isFalse();
    assertThat(json.get("error").asText()).containsAnyOf("libcuda", "libcudart", "libnccl");
  }

  @Test
  void dataInspectCountsSamplesAndProblems() throws IOException {
    try (var writer = new dev.kiln.data.webdataset.ShardWriter(dir, "s", 10, Long.MAX_VALUE)) {
      writer.write("a", java.util.Map.of("jpg", new byte[] {1}, "txt", "x".getBytes()));
      writer.write("b", java.util.Map.of("txt", "no image".getBytes()));
    }

    Result r = kiln("data", "inspect", dir.toString());

    assertThat(r.out()).contains("samples: 2").contains("missing_image: 1");
    assertThat(r.exit()).isEqualTo(65);
  }
}
