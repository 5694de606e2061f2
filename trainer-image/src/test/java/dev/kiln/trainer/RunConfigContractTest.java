package dev.kiln.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.api.runconfig.RunConfig;
import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.api.v1alpha1.ShardingStrategy;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The run config the operator's golden test writes is the one the trainer reads. */
class RunConfigContractTest {

  @TempDir
  Path dir;

  static Path golden() {
    Path p = Path.of("").toAbsolutePath();
    while (!Files.isDirectory(p.resolve("operator"))) {
      p = p.getParent();
    }
    return p.resolve("operator/src/test/resources/golden/run-config-sft.json");
  }

  @Test
  void parsesTheOperatorsGoldenRunConfig() {
    RunConfig config = TrainCommand.readConfig(golden());

    assertThat(config.stage()).isEqualTo("sft");
    assertThat(config.model().vision().imageSize()).isEqualTo(384);
    assertThat(config.model().languageModel().vocabSize()).isEqualTo(151_936);
    assertThat(config.data().visualTokens()).isEqualTo(729);
    assertThat(config.data().packedAttention()).isEqualTo(PackedAttention.PER_SAMPLE);
    assertThat(config.world().sharding()).isEqualTo(ShardingStrategy.FULL_SHARD);
    assertThat(config.checkpoints().initFrom()).isEqualTo("/kiln/workspace/checkpoints/pretrain/step-0009500");
    assertThat(config.optimizer().weightDecay()).isEqualTo(0.1);
  }

  @Test
  void anUnknownVersionIsAConfigErrorNamingTheFile() throws Exception {
    Path file = dir.resolve("run.json");
    Files.writeString(file, Files.readString(golden()).replace("kiln.dev/run-config/v1", "kiln.dev/run-config/v9"));

    assertThatThrownBy(() -> TrainCommand.readConfig(file)).hasMessageContaining("run.json")
        .hasMessageContaining("run-config/v9");
  }
}
