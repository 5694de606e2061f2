package dev.kiln.datajobs.filter;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.data.webdataset.Problems;
import dev.kiln.data.webdataset.Sample;
import dev.kiln.data.webdataset.ShardReader;
import dev.kiln.datajobs.DataJobsTestSupport;
import dev.kiln.datajobs.Inputs;
import dev.kiln.datajobs.TestShards;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FilterCommandTest {

  @TempDir
  Path dir;

  @Test
  void precomputedScoreKeepsExactlyTheSamplesAtOrAboveTheThreshold() throws IOException {
    TestShards.captions(dir.resolve("raw"), 40, 10);

    var r = DataJobsTestSupport.run("filter", "--input", dir.resolve("raw").toString(), "--output",
        dir.resolve("out").toString(), "--filter", "precomputed:field=clip_score,min=0.5",
        "--termination-log", dir.resolve("termination-log").toString());

    assertThat(r.exit()).isZero();
    assertThat(Files.readString(dir.resolve("termination-log"))).as("what the operator sums into the job's progress")
        .isEqualTo("{\"samplesRead\":40,\"samplesKept\":20,\"samplesBad\":0}");
    JsonNode report = report("report.json");
    assertThat(report.get("input").asLong()).isEqualTo(40);
    assertThat(report.get("kept").asLong()).isEqualTo(20);
    assertThat(report.get("dropped").asLong()).isEqualTo(20);
    assertThat(report.get("bad")).isEmpty();
    List<Sample> kept = new ShardReader(new Problems()).readAll(Inputs.resolve(dir.resolve("out").toString()).shards());
    assertThat(kept).extracting(Sample::key).first().isEqualTo("000020");
    assertThat(kept).hasSize(20);
  }

  @Test
  void everyDefectIsSkippedAndCountedByReason() throws IOException {
    TestShards.defects(dir.resolve("raw"));

    var r = DataJobsTestSupport.run("filter", "--input", dir.resolve("raw").toString(), "--output",
        dir.resolve("out").toString(), "--filter", "precomputed:field=clip_score,min=0.1", "--max-bad-fraction", "0.9");

    assertThat(r.exit()).isZero();
    JsonNode bad = report("report.json").get("bad");
    assertThat(bad.get("missing_image").asLong()).isEqualTo(1);
    assertThat(bad.get("empty_text").asLong()).isEqualTo(1);
    assertThat(bad.get("text_not_utf8").asLong()).isEqualTo(1);
    assertThat(bad.get("malformed_json").asLong()).isEqualTo(1);
    // Decoding images is the packer's job; the filter keeps the sample whose image bytes are broken.
    assertThat(report("report.json").get("kept").asLong()).isEqualTo(3);
  }

  @Test
  void tooMuchBadInputFailsWithTheDataExitCodeAfterWritingTheReport() throws IOException {
    TestShards.defects(dir.resolve("raw"));

    var r = DataJobsTestSupport.run("filter", "--input", dir.resolve("raw").toString(), "--output",
        dir.resolve("out").toString(), "--filter", "precomputed:field=clip_score,min=0.1");

    assertThat(r.exit()).isEqualTo(ExitCodes.DATA);
    assertThat(report("report.json").get("input").asLong()).isEqualTo(7);
    assertThat(r.err()).contains("filter: too much bad input: 4 of 7 samples (57.1%) are bad, more than"
        + " --max-bad-fraction 0.1");
  }

  @Test
  void inputShardsThatDoNotExistAreNamedAsMissingBeforeAnythingIsRead() throws IOException {
    TestShards.captions(dir.resolve("raw"), 20, 10);
    String pattern = dir.resolve("raw") + "/raw-{000000..000003}.tar";

    var some = DataJobsTestSupport.run("filter", "--input", pattern, "--output", dir.resolve("out").toString(),
        "--filter", "precomputed:field=clip_score,min=0.5");
    var none = DataJobsTestSupport.run("filter", "--input", "/nothere/{0..1}.tar", "--output",
        dir.resolve("out2").toString(), "--filter", "precomputed:field=clip_score,min=0.5");

    assertThat(some.exit()).isEqualTo(ExitCodes.DATA);
    assertThat(some.err().strip()).isEqualTo("filter: 2 of the 4 input shards of " + pattern + " do not exist: "
        + dir.resolve("raw/raw-000002.tar") + ", " + dir.resolve("raw/raw-000003.tar"));
    assertThat(none.exit()).isEqualTo(ExitCodes.DATA);
    assertThat(none.err().strip()).isEqualTo("filter: none of the 2 input shard(s) of /nothere/{0..1}.tar exist:"
        + " /nothere/0.tar, /nothere/1.tar");
    assertThat(dir.resolve("out2")).doesNotExist();
  }

  @Test
  void anOutputItCannotWriteIsAConfigurationErrorBeforeAnySampleIsRead() throws IOException {
    TestShards.captions(dir.resolve("raw"), 20, 10);
    Files.writeString(dir.resolve("workspace"), "a file where the volume should be");

    var r = DataJobsTestSupport.run("filter", "--input", dir.resolve("raw").toString(), "--output",
        dir.resolve("workspace/filtered").toString(), "--filter", "precomputed:field=clip_score,min=0.5");

    assertThat(r.exit()).isEqualTo(ExitCodes.CONFIG);
    assertThat(r.err().strip()).startsWith("filter: cannot write to " + dir.resolve("workspace/filtered") + " as uid ")
        .contains("fsGroup 65532");
  }

  @Test
  void aUidListThatIsNotThereIsAConfigurationErrorInOneLine() throws IOException {
    TestShards.captions(dir.resolve("raw"), 4, 4);

    var r = DataJobsTestSupport.run("filter", "--input", dir.resolve("raw").toString(), "--output",
        dir.resolve("out").toString(), "--filter", "uids:" + dir.resolve("dfn.npy"));

    assertThat(r.exit()).isEqualTo(ExitCodes.CONFIG);
    assertThat(r.err().lines()).singleElement().asString()
        .startsWith(dir.resolve("dfn.npy") + ": cannot read uid list: ");
  }

  @Test
  void anyOfKeepsTheUnionOfUidListAndScore() throws IOException {
    TestShards.captions(dir.resolve("raw"), 40, 10);
    Path uids = dir.resolve("uids.txt");
    Files.writeString(uids, "# DFN keeps these\n" + String.format("%032x%n%032x%n", 1, 3));

    var r = DataJobsTestSupport.run("filter", "--input", dir.resolve("raw").toString(), "--output",
        dir.resolve("out").toString(), "--filter", "uids:" + uids, "--filter", "precomputed:field=clip_score,min=0.9",
        "--combine", "any");

    assertThat(r.exit()).isZero();
    List<Sample> kept = new ShardReader(new Problems()).readAll(Inputs.resolve(dir.resolve("out").toString()).shards());
    assertThat(kept).extracting(Sample::key).containsExactly("000001", "000003", "000036", "000037", "000038", "000039");
  }

  @Test
  void eachCompletionIndexFiltersItsOwnShardGroup() throws IOException {
    TestShards.captions(dir.resolve("raw"), 50, 10);

    for (int index = 0; index < 3; index++) {
      var r = DataJobsTestSupport.run("filter", "--input", dir.resolve("raw").toString(), "--output",
          dir.resolve("out").toString(), "--filter", "precomputed:field=clip_score,min=0", "--shards-per-task", "2",
          "--task-index", Integer.toString(index));
      assertThat(r.exit()).isZero();
    }

    assertThat(report("report-00000.json").get("kept").asLong()).isEqualTo(20);
    assertThat(report("report-00001.json").get("kept").asLong()).isEqualTo(20);
    assertThat(report("report-00002.json").get("kept").asLong()).isEqualTo(10);
  }

  @Test
  void aModelFilterWithoutItsModelFailsNamingTheSpec() {
    var r = DataJobsTestSupport.run("filter", "--input", dir.toString(), "--output", dir.resolve("out").toString(),
        "--filter", "mlm:model=/kiln/data/mlm,min=85");

    assertThat(r.exit()).isEqualTo(ExitCodes.CONFIG);
    assertThat(r.err()).contains("--filter mlm:model=/kiln/data/mlm,min=85: cannot load the scoring model from /kiln/data/mlm");
  }

  @Test
  void dfnNpyUidListIsReadAsSortedPairs() throws IOException {
    Path npy = dir.resolve("dfn-uids.npy");
    try (var in = getClass().getResourceAsStream("/uids/dfn-uids.npy")) {
      Files.write(npy, in.readAllBytes());
    }

    UidSet uids = UidSet.load(npy);

    assertThat(uids.size()).isEqualTo(5);
    assertThat(uids.contains("0a1b2c3d4e5f60718293a4b5c6d7e8f9")).isTrue();
    assertThat(uids.contains("ffffffffffffffff0000000000000000")).isTrue();
    assertThat(uids.contains("8000000000000000ffffffffffffffff")).isTrue();
    assertThat(uids.contains("0a1b2c3d4e5f60718293a4b5c6d7e8f8")).isFalse();
    assertThat(uids.contains("not-a-uid")).isFalse();
  }

  private JsonNode report(String name) throws IOException {
    return new ObjectMapper().readTree(dir.resolve("out").resolve(name).toFile());
  }
}
