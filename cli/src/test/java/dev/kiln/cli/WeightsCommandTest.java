package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.model.weights.PublishedCheckpoints;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code kiln weights check}: exit 0 and a short report when the folders fit, 1 naming each misfit, 2 for no folder. */
@Timeout(120)
class WeightsCommandTest {

  @TempDir
  Path dir;

  private int run(StringWriter out, String... args) {
    var cli = KilnCommand.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(out, true));
    return cli.execute(args);
  }

  @Test
  void foldersThatFitAPresetOrAJobsModelExitZero() throws Exception {
    Path lm = PublishedCheckpoints.qwen2(dir.resolve("qwen"), ModelPreset.TINY.dimensions(), 1, "zeros");
    Path vision = PublishedCheckpoints.siglip(dir.resolve("siglip"), ModelPreset.TINY.dimensions(), "zeros");
    StringWriter out = new StringWriter();

    assertThat(run(out, "weights", "check", "--preset", "tiny", "--language-model", lm.toString(),
        "--vision-encoder", vision.toString())).as(out.toString()).isZero();
    assertThat(out.toString()).contains("language model " + lm).contains("vision encoder " + vision)
        .contains("the weights fit the model");

    Path job = dir.resolve("job.yaml");
    Files.writeString(job, Files.readString(Path.of(System.getProperty("kiln.root"), "examples/quickstart.yaml")));
    assertThat(run(new StringWriter(), "weights", "check", "--job", job.toString(), "--language-model", lm.toString()))
        .as("the quickstart's model is the tiny preset").isZero();
  }

  @Test
  void anMlmFilterModelAsPublishedIsCheckedAgainstItsOwnConfig() throws Exception {
    var dims = ModelPreset.TINY.dimensions();
    Path mlm = PublishedCheckpoints.llava(dir.resolve("mlm-filter"), new dev.kiln.api.v1alpha1.ModelDimensions(dims.vision(),
        dims.languageModel().hiddenSize(), dims.languageModel()), "{\"mm_projector_type\": \"mlp2x_gelu\"}", true, "zeros");
    StringWriter out = new StringWriter();

    assertThat(run(out, "weights", "check", "--mlm-filter", mlm.toString())).as(out.toString()).isZero();
    assertThat(out.toString()).contains("scoring model " + mlm + ": LLaVA layout");

    Files.delete(mlm.resolve("model.safetensors"));
    assertThat(run(new StringWriter(), "weights", "check", "--mlm-filter", mlm.toString())).isEqualTo(1);
    assertThat(run(new StringWriter(), "weights", "check", "--language-model", mlm.toString()))
        .as("a language model needs a model to be checked against").isEqualTo(2);
  }

  @Test
  void foldersOfAnotherModelExitOneNamingTheirTensors() throws Exception {
    Path lm = PublishedCheckpoints.qwen2(dir.resolve("qwen"), ModelPreset.TINY.dimensions(), 1, "zeros");
    StringWriter out = new StringWriter();

    assertThat(run(out, "weights", "check", "--preset", "small", "--language-model", lm.toString())).isEqualTo(1);
    assertThat(out.toString()).contains("config.json hidden_size is").contains("has shape")
        .contains("the weights do not fit the model");

    assertThat(run(new StringWriter(), "weights", "check", "--preset", "tiny")).as("no folder given").isEqualTo(2);
    assertThat(run(new StringWriter(), "weights", "check", "--preset", "huge", "--language-model", lm.toString()))
        .isEqualTo(2);
  }
}
