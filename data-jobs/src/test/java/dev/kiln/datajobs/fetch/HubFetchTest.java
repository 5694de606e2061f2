package dev.kiln.datajobs.fetch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.datajobs.DataJobsTestSupport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** fetch from a hub-shaped loopback server: layout, digests, resuming, and every way a download goes wrong. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class HubFetchTest {

  static final byte[] WEIGHTS = random(2 << 20, 1);
  static final String TOKEN = "hf_test_token";

  @TempDir
  Path dir;

  FakeHub hub;

  static byte[] random(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  @BeforeEach
  void start() throws IOException {
    hub = new FakeHub();
    hub.add(new FakeHub.Repo("models", "Qwen/Tiny-Instruct", "main", List.of(
        FakeHub.git("config.json", "{\"hidden_size\": 8}"),
        FakeHub.lfs("model.safetensors", WEIGHTS),
        FakeHub.git("tokenizer/special tokens.txt", "<|im_end|>\n")), true, Map.of()));
  }

  @AfterEach
  void stop() {
    hub.close();
  }

  Map<String, String> environment() {
    return Map.of("HF_ENDPOINT", hub.endpoint(), "HF_TOKEN", TOKEN);
  }

  DataJobsTestSupport.Result fetch(String... args) {
    return FetchRuns.fetch(environment(), args);
  }

  List<Path> partFiles() throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(p -> p.getFileName().toString().endsWith(".part")).toList();
    }
  }

  @Test
  void aRepositoryLandsUnderItsLowerCaseNameWithItsPathsTheTokenGoingToTheHubOnly() throws Exception {
    var r = fetch("hf://Qwen/Tiny-Instruct", "--output", dir.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    Path repo = dir.resolve("tiny-instruct");
    assertThat(repo.resolve("config.json")).hasContent("{\"hidden_size\": 8}");
    assertThat(Files.readAllBytes(repo.resolve("model.safetensors"))).isEqualTo(WEIGHTS);
    assertThat(repo.resolve("tokenizer/special tokens.txt")).hasContent("<|im_end|>\n");
    assertThat(partFiles()).isEmpty();
    assertThat(hub.requests).filteredOn(q -> q.startsWith("hub")).isNotEmpty()
        .allMatch(q -> q.endsWith("auth=Bearer " + TOKEN));
    assertThat(hub.requests).filteredOn(q -> q.contains("/resolve/")).hasSize(3)
        .allMatch(q -> q.contains("/Qwen/Tiny-Instruct/resolve/" + FakeHub.COMMIT + "/"));
    assertThat(hub.requests).filteredOn(q -> q.startsWith("cdn")).singleElement().asString().endsWith("auth=null");
    assertThat(r.err()).contains("fetch: 3 files in " + dir + ": 3 downloaded");
  }

  @Test
  void aSecondRunKeepsFilesWhoseDigestMatchesAndReplacesOneThatWasChanged() throws Exception {
    fetch("hf://Qwen/Tiny-Instruct", "--output", dir.toString());
    Files.writeString(dir.resolve("tiny-instruct/config.json"), "{\"hidden_size\": 9}");  // same size, other content
    hub.requests.clear();

    var r = fetch("hf://Qwen/Tiny-Instruct", "--output", dir.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(dir.resolve("tiny-instruct/config.json")).hasContent("{\"hidden_size\": 8}");
    assertThat(hub.requests).filteredOn(q -> q.contains("/resolve/")).singleElement().asString().contains("config.json");
    assertThat(r.err()).contains("2 already there");
  }

  @Test
  void aTransferCutHalfwayResumesFromThePartWithARange() throws Exception {
    hub.cuts.add(WEIGHTS.length / 2);

    var r = fetch("hf://Qwen/Tiny-Instruct", "--output", dir.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    Path weights = dir.resolve("tiny-instruct/model.safetensors");
    assertThat(Files.readAllBytes(weights)).isEqualTo(WEIGHTS);
    List<String> ranges = hub.requests.stream().filter(q -> q.startsWith("cdn"))
        .map(q -> q.replaceAll(".* range=(\\S+).*", "$1")).toList();
    assertThat(ranges).hasSize(2).first().isEqualTo("null");
    long resumedAt = Long.parseLong(ranges.get(1).replaceAll("bytes=(\\d+)-", "$1"));
    assertThat(resumedAt).isPositive().isLessThanOrEqualTo(WEIGHTS.length / 2);
  }

  @Test
  void aTransferThatKeepsBreakingExits1WithOnlyAPartThenTheNextRunResumesIt() throws Exception {
    hub.cuts.addAll(List.of(WEIGHTS.length / 4, 0, 0));

    var broken = fetch("hf://Qwen/Tiny-Instruct", "--output", dir.toString(), "--attempts", "3");

    Path weights = dir.resolve("tiny-instruct/model.safetensors");
    long kept = Files.size(Download.partOf(weights));
    assertThat(kept).isPositive().isLessThanOrEqualTo(WEIGHTS.length / 4);
    assertThat(broken.exit()).isEqualTo(ExitCodes.FAILURE);
    assertThat(broken.err().lines().filter(l -> !l.contains(" downloaded ("))).singleElement().asString()
        .startsWith("fetch: " + weights + ": the transfer broke at byte " + kept + " of " + WEIGHTS.length)
        .endsWith("gave up after 3 attempts without progress, " + kept + " bytes kept in model.safetensors.part to resume");
    assertThat(weights).doesNotExist();
    assertThat(partFiles()).containsExactly(Download.partOf(weights));
    hub.requests.clear();

    var resumed = fetch("hf://Qwen/Tiny-Instruct", "--output", dir.toString());

    assertThat(resumed.exit()).as(resumed.err()).isZero();
    assertThat(Files.readAllBytes(weights)).isEqualTo(WEIGHTS);
    assertThat(hub.requests).filteredOn(q -> q.startsWith("cdn")).singleElement().asString()
        .contains("range=bytes=" + kept + "-");
    assertThat(partFiles()).isEmpty();
  }

  @Test
  void busyAnswersAreRetriedWithBackoff() throws Exception {
    hub.unavailable.set(2);

    var r = fetch("hf://Qwen/Tiny-Instruct", "--output", dir.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(Files.readAllBytes(dir.resolve("tiny-instruct/model.safetensors"))).isEqualTo(WEIGHTS);
    assertThat(hub.requests).filteredOn(q -> q.startsWith("cdn")).hasSize(3);
  }

  @Test
  void aRepositoryThatIsNotThereIsOneLineNamingItAndExit65() {
    var r = fetch("hf://Qwen/Missing", "--output", dir.toString());

    assertThat(r.exit()).isEqualTo(ExitCodes.DATA);
    assertThat(r.err()).isEqualTo("fetch: hf://Qwen/Missing: not found (HTTP 404 from " + hub.endpoint()
        + "/api/models/Qwen/Missing/revision/main: Repository not found)\n");
  }

  @Test
  void aListedFileTheHubCannotServeIsOneLineNamingTheFileAndNothingCompleteLooking() throws Exception {
    hub.add(new FakeHub.Repo("models", "Qwen/Gappy", "main", List.of(FakeHub.git("config.json", "{}"),
        FakeHub.git("missing.bin", "never served")), true, Map.of()));

    var r = fetch("hf://Qwen/Gappy", "--output", dir.toString());

    Path missing = dir.resolve("gappy/missing.bin");
    assertThat(r.exit()).isEqualTo(ExitCodes.DATA);
    assertThat(r.err().lines().toList()).last().asString().startsWith("fetch: " + missing + ": not found (HTTP 404");
    assertThat(missing).doesNotExist();
    assertThat(partFiles()).isEmpty();
  }

  @Test
  void bytesThatDoNotMatchTheListedSha256AreRefusedAndRemoved() throws Exception {
    byte[] corrupt = WEIGHTS.clone();
    corrupt[12345] ^= 1;
    hub.corruptOnCdn.put(FakeHub.sha256(WEIGHTS), corrupt);

    var r = fetch("hf://Qwen/Tiny-Instruct", "--output", dir.toString());

    Path weights = dir.resolve("tiny-instruct/model.safetensors");
    assertThat(r.exit()).isEqualTo(ExitCodes.DATA);
    assertThat(r.err().lines().toList()).last().asString().isEqualTo("fetch: " + weights + ": sha256 of the download is "
        + FakeHub.sha256(corrupt) + ", the source says " + FakeHub.sha256(WEIGHTS));
    assertThat(weights).doesNotExist();
    assertThat(partFiles()).isEmpty();
  }

  @Test
  void withoutDigestsInTheListTheResolveResponsesLinkedEtagIsTheSha256Checked() throws Exception {
    String wrong = FakeHub.sha256("something else".getBytes(StandardCharsets.UTF_8));
    hub.add(new FakeHub.Repo("models", "Qwen/Mirror", "main", List.of(FakeHub.lfs("model.safetensors", WEIGHTS)), false,
        Map.of("model.safetensors", wrong)));

    var r = fetch("hf://Qwen/Mirror", "--output", dir.toString());

    assertThat(r.exit()).isEqualTo(ExitCodes.DATA);
    assertThat(r.err()).contains("the source says " + wrong);
  }

  @Test
  void aDatasetAtARevisionComesFromTheDatasetPaths() throws Exception {
    hub.add(new FakeHub.Repo("datasets", "kiln/captions", "v1.0", List.of(FakeHub.lfs("shards/00000.tar", WEIGHTS)), true,
        Map.of()));

    var r = fetch("hf://datasets/kiln/captions@v1.0", "--output", dir.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(Files.readAllBytes(dir.resolve("captions/shards/00000.tar"))).isEqualTo(WEIGHTS);
    assertThat(hub.requests).anyMatch(q -> q.contains("/api/datasets/kiln/captions/revision/v1.0"))
        .anyMatch(q -> q.contains("/datasets/kiln/captions/resolve/" + FakeHub.COMMIT + "/shards/00000.tar"));
  }

  @Test
  void aFullDiskIsOneLineNamingTheFileAndLeavesOnlyThePart() throws Exception {
    long room = 1 << 20;
    PartFiles smallDisk = (part, append) -> new FillingChannel(PartFiles.DISK.open(part, append), room);

    var r = FetchRuns.fetch(environment(), smallDisk, "hf://Qwen/Tiny-Instruct", "--output", dir.toString());

    Path weights = dir.resolve("tiny-instruct/model.safetensors");
    assertThat(r.exit()).isEqualTo(ExitCodes.FAILURE);
    assertThat(r.err().lines().toList()).last().asString().isEqualTo("fetch: " + weights
        + ": no space left on the disk after " + room + " of " + WEIGHTS.length
        + " bytes (model.safetensors.part kept to resume)");
    assertThat(weights).doesNotExist();
    assertThat(Files.size(Download.partOf(weights))).isEqualTo(room);
  }

  @Test
  void filesLargerThanTheDiskAreRefusedBeforeAnyDownload() throws Exception {
    hub.listedSizes.put("model.safetensors", 1L << 60);

    var r = fetch("hf://Qwen/Tiny-Instruct", "--output", dir.toString());

    assertThat(r.exit()).isEqualTo(ExitCodes.FAILURE);
    assertThat(r.err().lines()).singleElement().asString().startsWith("fetch: " + dir + ": needs 1.0 EiB more, the disk has ");
    assertThat(hub.requests).noneMatch(q -> q.contains("/resolve/"));
  }

  @Test
  void aUrlLandsUnderItsFileNameCheckedAgainstItsSha256Fragment() throws Exception {
    String sha256 = FakeHub.sha256(WEIGHTS);
    String url = "http://127.0.0.1:" + hub.cdn.getAddress().getPort() + "/blobs/" + sha256;

    var right = fetch(url + "#sha256=" + sha256, "--output", dir.resolve("right").toString());
    var wrong = fetch(url + "#sha256=" + "0".repeat(64), "--output", dir.resolve("wrong").toString());

    assertThat(right.exit()).as(right.err()).isZero();
    assertThat(Files.readAllBytes(dir.resolve("right").resolve(sha256))).isEqualTo(WEIGHTS);
    assertThat(wrong.exit()).isEqualTo(ExitCodes.DATA);
    assertThat(wrong.err()).isEqualTo("fetch: " + dir.resolve("wrong").resolve(sha256) + ": sha256 of the download is "
        + sha256 + ", the source says " + "0".repeat(64) + "\n");
    assertThat(partFiles()).isEmpty();
  }

  @Test
  void aUrlThatIsNotThereIsOneLineNamingTheFileAndExit65() {
    String url = "http://127.0.0.1:" + hub.cdn.getAddress().getPort() + "/blobs/gone.tar";

    var r = fetch(url, "--output", dir.toString());

    assertThat(r.exit()).isEqualTo(ExitCodes.DATA);
    assertThat(r.err()).isEqualTo("fetch: " + dir.resolve("gone.tar") + ": not found (HTTP 404 from " + url + ")\n");
    assertThat(dir.resolve("gone.tar")).doesNotExist();
  }

  @Test
  void aSourceThatIsNoneIsAUsageMistake() {
    var r = fetch("ftp://example/x", "--output", dir.toString());

    assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
    assertThat(r.err().lines()).singleElement().asString().startsWith("kiln-data fetch: ftp://example/x: not a source");
  }

  /** A disk with {@code room} bytes left: past them a write fails as Linux reports ENOSPC. */
  static final class FillingChannel implements WritableByteChannel {
    private final WritableByteChannel disk;
    private long room;

    FillingChannel(WritableByteChannel disk, long room) {
      this.disk = disk;
      this.room = room;
    }

    @Override
    public int write(ByteBuffer source) throws IOException {
      if (room == 0) {
        throw new IOException("No space left on device");
      }
      ByteBuffer slice = source.slice(source.position(), (int) Math.min(room, source.remaining()));
      int written = disk.write(slice);
      source.position(source.position() + written);
      room -= written;
      return written;
    }

    @Override
    public boolean isOpen() {
      return disk.isOpen();
    }

    @Override
    public void close() throws IOException {
      disk.close();
    }
  }
}
