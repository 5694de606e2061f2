package dev.kiln.datajobs.filter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.data.image.Images;
import dev.kiln.data.webdataset.Problems;
import dev.kiln.data.webdataset.Sample;
import dev.kiln.data.webdataset.ShardReader;
import dev.kiln.datajobs.TestShards;
import dev.kiln.model.ComputeDevice;
import dev.kiln.model.clip.ClipModelTest;
import dev.kiln.model.clip.ClipScorer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The filters' model scorers on GPU 0 score as on the CPU. Needs an NVIDIA GPU and a CUDA
 * libtorch, so it is not in the default suite ({@code gpu} group); {@code scripts/gpu-smoke.sh}
 * runs it where there is one.
 */
@Tag("gpu")
class ModelFiltersGpuTest {

  @TempDir
  Path dir;

  @Test
  void clipScoresOnTheGpuAreTheCpus() throws IOException {
    TestShards.captions(dir.resolve("raw"), 12, 6);
    Path clip = Files.createDirectories(dir.resolve("clip"));
    ClipModelTest.writeTinyClip(clip, TestShards.WORDS.subList(0, 17));
    List<Sample> samples = new ShardReader(new Problems()).readAll(ShardReader.shardsIn(dir.resolve("raw")));
    var images = samples.stream().map(s -> Images.decode(s.image().get().getValue())).toList();
    var captions = samples.stream().map(s -> new String(s.members().get("txt"))).toList();

    double[] cpu;
    double[] gpu;
    try (ClipScorer scorer = ClipScorer.load(clip, ComputeDevice.cpu())) {
      cpu = scorer.scores(images, captions);
    }
    try (ClipScorer scorer = ClipScorer.load(clip, ComputeDevice.gpu(0))) {
      gpu = scorer.scores(images, captions);
    }

    for (int i = 0; i < cpu.length; i++) {
      assertThat(gpu[i]).as("sample " + i).isCloseTo(cpu[i], org.assertj.core.data.Offset.offset(1e-4));
    }
  }

  @Test
  void theMlmScorersAnswerOnTheGpuIsTheCpus() throws IOException {
    TestShards.captions(dir.resolve("raw"), 2, 2);
    Path model = ModelFiltersTest.scoringModel(dir.resolve("mlm"), "90");
    Sample sample = new ShardReader(new Problems()).readAll(ShardReader.shardsIn(dir.resolve("raw"))).getFirst();
    var image = Images.decode(sample.image().get().getValue());
    String caption = new String(sample.members().get("txt"));

    String cpu;
    String gpu;
    try (var scorer = dev.kiln.model.mlm.MlmScorer.load(model, dev.kiln.model.mlm.MlmScorer.SU_PROMPT,
        ComputeDevice.cpu())) {
      cpu = scorer.answers(List.of(image), List.of(caption)).getFirst();
    }
    try (var scorer = dev.kiln.model.mlm.MlmScorer.load(model, dev.kiln.model.mlm.MlmScorer.SU_PROMPT,
        ComputeDevice.gpu(0))) {
      gpu = scorer.answers(List.of(image), List.of(caption)).getFirst();
    }
    assertThat(gpu).isEqualTo(cpu).startsWith("90");
  }
}
