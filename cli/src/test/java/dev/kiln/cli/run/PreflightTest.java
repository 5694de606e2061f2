package dev.kiln.cli.run;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.JobFiles;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PreflightTest {

  static final long GB = 1_000_000_000L;

  @TempDir
  Path dir;

  static MultimodalPretrainJob example(String name) {
    Path root = Path.of("").toAbsolutePath();
    while (!Files.isDirectory(root.resolve("examples"))) {
      root = root.getParent();
    }
    return JobFiles.read(root.resolve("examples").resolve(name)).getFirst();
  }

  @Test
  void namesEveryMissingInputByFieldAndTheClaimToPass() throws IOException {
    MultimodalPretrainJob job = example("open-qwen2vl.yaml");
    Path data = Files.createDirectories(dir.resolve("datasets"));
    Path weights = Files.createDirectories(dir.resolve("weights"));
    Files.createDirectories(data.resolve("ccs_webdataset"));
    for (int i = 0; i <= 1302; i++) {
      Files.createFile(data.resolve("ccs_webdataset").resolve(String.format("%05d.tar", i)));
    }
    Files.delete(data.resolve("ccs_webdataset/00007.tar"));

    var problems = Preflight.missingInputs(job, Map.of("datasets", data, "model-weights", weights),
        Set.of("model-weights"));

    assertThat(problems).hasSize(2);
    assertThat(problems.get(0)).startsWith("claim datasets (no --claim datasets=DIR given, so kiln run looked in " + data
            + "): the job reads")
        .contains("spec.data.sources[0].shards ccs_webdataset/{00000..01302}.tar: 1 of 1303 shards missing (first missing:"
            + " ccs_webdataset/00007.tar)")
        .contains("spec.data.sources[1].shards datacomp_medium/{00000000..00012895}.tar: none of the 12896 shard(s) exist")
        .contains("spec.data.sources[1].filter.uidList.path dfn/datacomp_medium_dfn_20m_inds.npy: missing")
        .contains("spec.data.sources[1].filter.mlmFilter.model mlm-filter-qwen2.5-1.5b-gpt4o: missing")
        .endsWith("--claim datasets=DIR");
    assertThat(problems.get(1)).startsWith("claim model-weights (--claim model-weights=" + weights + ") is empty")
        .contains("spec.model.initialWeights.tokenizer qwen2.5-1.5b-instruct/tokenizer.json: missing")
        .contains("spec.model.initialWeights.languageModel qwen2.5-1.5b-instruct: missing")
        .contains("spec.model.initialWeights.visionEncoder siglip-so400m-patch14-384: missing");
  }

  @Test
  void aJobWhoseInputsAreAllThereHasNoProblem() throws IOException {
    MultimodalPretrainJob job = example("quickstart.yaml");
    Path data = dir.resolve("data");
    dev.kiln.trainer.synthetic.SampleDatasets.ensure("shapes", data);

    assertThat(Preflight.problems(job, Map.of(job.getSpec().data().claimName(), data), Set.of(), 16 * GB)).isEmpty();
  }

  @Test
  void aModelTooBigForThisMachinesMemoryIsRefusedWithWhatToDoInstead() {
    MultimodalPretrainJob recipe = example("open-qwen2vl.yaml");

    var refused = Preflight.tooBig(recipe, 64 * GB);

    assertThat(refused).hasValueSatisfying(why -> assertThat(why)
        .startsWith("stage pretrain does not fit on this machine: kiln run runs every rank here, on the CPU, and its 8"
            + " rank(s) (1 node(s) x 8)")
        .contains("this machine has 64.0 GB").contains("model.preset: tiny").contains("kiln estimate"));
    assertThat(Preflight.tooBig(recipe, 4_000 * GB)).isEmpty();
    assertThat(Preflight.tooBig(example("quickstart.yaml"), 2 * GB)).as("the quickstart on a small machine").isEmpty();
  }
}
