package dev.kiln.cli.run;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.trainer.loop.StepMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A stage's {@code metrics.jsonl} as the trainer writes it to the working volume, one line per
 * step. A resumed attempt appends the steps after its checkpoint again; the last line per step wins.
 */
public record StageMetrics(String stage, List<StepMetrics> steps) {

  private static final ObjectMapper JSON = new ObjectMapper()
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  /** Reads {@code workspace/metrics/<stage>/metrics.jsonl}; empty when the stage has not started. */
  public static StageMetrics read(Path workspace, String stage) {
    Path file = workspace.resolve("metrics").resolve(stage).resolve("metrics.jsonl");
    TreeMap<Long, StepMetrics> byStep = new TreeMap<>();
    for (StepMetrics step : lines(file)) {
      byStep.put(step.step(), step);
    }
    return new StageMetrics(stage, new ArrayList<>(byStep.values()));
  }

  /** Every line in order, including steps repeated by a resumed attempt. */
  public static List<StepMetrics> lines(Path file) {
    List<StepMetrics> lines = new ArrayList<>();
    if (!Files.isRegularFile(file)) {
      return lines;
    }
    try {
      for (String line : Files.readAllLines(file)) {
        if (!line.isBlank()) {
          try {
            lines.add(JSON.readValue(line, StepMetrics.class));
          } catch (IOException e) {
            // The last line may be half written while the trainer runs.
          }
        }
      }
    } catch (IOException e) {
      return lines;
    }
    return lines;
  }

  public Optional<StepMetrics> last() {
    return steps.isEmpty() ? Optional.empty() : Optional.of(steps.getLast());
  }
}
