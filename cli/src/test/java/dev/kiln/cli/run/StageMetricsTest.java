package dev.kiln.cli.run;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.trainer.loop.StepMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StageMetricsTest {

  @TempDir
  Path workspace;

  @Test
  void latestReadsTheNewestCompleteLineFromTheEndOfALongFile() throws IOException {
    Path file = workspace.resolve("metrics/pretrain/metrics.jsonl");
    Files.createDirectories(file.getParent());
    ObjectMapper json = new ObjectMapper();
    StringBuilder lines = new StringBuilder();
    for (long step = 1; step <= 2000; step++) {
      lines.append(json.writeValueAsString(new StepMetrics(step, 2000, 1.0 / step, 1e-3, 0.5, step * 100, 900, 0, 0.2, null, null)))
          .append('\n');
    }
    lines.append("{\"step\":2001,\"totalSt");  // the trainer is writing the next line
    Files.writeString(file, lines);

    assertThat(StageMetrics.latest(workspace, "pretrain")).get().extracting(StepMetrics::step).isEqualTo(2000L);
    assertThat(StageMetrics.read(workspace, "pretrain").last()).get().extracting(StepMetrics::step).isEqualTo(2000L);
    assertThat(StageMetrics.latest(workspace, "sft")).isEmpty();
  }
}
