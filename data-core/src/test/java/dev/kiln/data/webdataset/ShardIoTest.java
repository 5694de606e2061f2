package dev.kiln.data.webdataset;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardIoTest {

  @TempDir
  Path dir;

  static Map<String, byte[]> members(String caption) {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("jpg", ("jpeg-bytes-of-" + caption).getBytes(StandardCharsets.UTF_8));
    m.put("txt", caption.getBytes(StandardCharsets.UTF_8));
    m.put("json", ("{\"uid\":\"" + caption + "\"}").getBytes(StandardCharsets.UTF_8));
    return m;
  }

  List<ShardWriter.WrittenShard> writeSamples(Path out, int count, int perShard) {
    try (ShardWriter writer = new ShardWriter(out, "part", perShard, Long.MAX_VALUE)) {
      for (int i = 0; i < count; i++) {
        writer.write(String.format("%06d", i), members("caption " + i));
      }
      writer.close();
      return writer.shards();
    }
  }

  @Test
  void roundTripKeepsEverySampleInOrderAcrossShards() {
    List<ShardWriter.WrittenShard> shards = writeSamples(dir, 25, 10);
    assertThat(shards).extracting(ShardWriter.WrittenShard::samples).containsExactly(10L, 10L, 5L);

    Problems problems = new Problems();
    List<Sample> samples = new ShardReader(problems).readAll(shards.stream().map(ShardWriter.WrittenShard::path).toList());

    assertThat(problems.total()).isZero();
    assertThat(samples).hasSize(25);
    assertThat(samples.get(13).key()).isEqualTo("000013");
    assertThat(samples.get(13).members().keySet()).containsExactly("jpg", "json", "txt");
    assertThat(new String(samples.get(13).members().get("txt"), StandardCharsets.UTF_8)).isEqualTo("caption 13");
  }

  @Test
  void sameSamplesGiveTheSameBytes() {
    List<ShardWriter.WrittenShard> first = writeSamples(dir.resolve("a"), 12, 5);
    List<ShardWriter.WrittenShard> second = writeSamples(dir.resolve("b"), 12, 5);

    assertThat(first).extracting(ShardWriter.WrittenShard::sha256)
        .containsExactlyElementsOf(second.stream().map(ShardWriter.WrittenShard::sha256).toList());
  }

  @Test
  void readsAShardWrittenByPythonsTarfile() throws IOException {
    Path shard = dir.resolve("python-shard.tar");
    try (var in = getClass().getResourceAsStream("/webdataset/python-shard.tar")) {
      Files.write(shard, in.readAllBytes());
    }
    Problems problems = new Problems();

    List<Sample> samples = new ShardReader(problems).readAll(List.of(shard));

    assertThat(problems.total()).isZero();
    assertThat(samples).extracting(Sample::key).containsExactly("shard/000000", "shard/000001", "shard/000002");
    assertThat(samples.get(1).text("txt")).contains("ünïcödé caption ✓");
    assertThat(samples.get(0).image()).get().extracting(Map.Entry::getKey).isEqualTo("png");
    assertThat(samples.get(2).members()).containsKeys("seg.jpg", "seg.txt");
  }

  @Test
  void truncatedShardYieldsTheCompleteSamplesBeforeTheDamage() throws IOException {
    Path shard = writeSamples(dir, 10, 100).getFirst().path();
    byte[] bytes = Files.readAllBytes(shard);
    Files.write(shard, Arrays.copyOf(bytes, bytes.length / 2));
    Problems problems = new Problems();

    List<Sample> samples = new ShardReader(problems).readAll(List.of(shard));

    assertThat(samples).hasSizeBetween(3, 5);
    assertThat(samples.getLast().members()).hasSize(3);
    assertThat(problems.count(Problems.TRUNCATED_SHARD)).isEqualTo(1);
  }

  @Test
  void missingShardIsCountedAndTheNextOneRead() {
    Path good = writeSamples(dir, 3, 100).getFirst().path();
    Problems problems = new Problems();

    List<Sample> samples = new ShardReader(problems).readAll(List.of(dir.resolve("gone.tar"), good));

    assertThat(samples).hasSize(3);
    assertThat(problems.count(Problems.UNREADABLE_SHARD)).isEqualTo(1);
    assertThat(problems.examples().get(Problems.UNREADABLE_SHARD).getFirst()).contains("gone.tar");
  }

  @Test
  void oversizeMembersDropTheirSampleAndMembersWithoutKeyAreSkipped() throws IOException {
    Path shard = dir.resolve("odd.tar");
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(Files.newOutputStream(shard))) {
      add(tar, "000001.txt", "fine".getBytes());
      add(tar, "000002.txt", new byte[2048]);
      add(tar, "000002.jpg", "x".getBytes());
      add(tar, "README", "no extension".getBytes());
      add(tar, "000003.txt", "also fine".getBytes());
    }
    Problems problems = new Problems();

    List<Sample> samples = new ShardReader(problems, 1024).readAll(List.of(shard));

    assertThat(samples).extracting(Sample::key).containsExactly("000001", "000003");
    assertThat(problems.count(Problems.OVERSIZE_MEMBER)).isEqualTo(1);
    assertThat(problems.count(Problems.MEMBER_WITHOUT_KEY)).isEqualTo(1);
  }

  @Test
  void nonUtf8CaptionIsDetected() {
    Sample sample = Sample.of("k", Map.of("txt", new byte[] {(byte) 0xC3, (byte) 0x28}));

    org.assertj.core.api.Assertions.assertThatThrownBy(() -> sample.text("txt"))
        .isInstanceOf(java.nio.charset.CharacterCodingException.class);
  }

  private static void add(TarArchiveOutputStream tar, String name, byte[] data) throws IOException {
    TarArchiveEntry entry = new TarArchiveEntry(name);
    entry.setSize(data.length);
    tar.putArchiveEntry(entry);
    tar.write(data);
    tar.closeArchiveEntry();
  }
}
