package dev.kiln.cli.run;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.trainer.loop.StepMetrics;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
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

  /** Bytes read from the end of the file for the newest step: many lines' worth. */
  static final int TAIL_BYTES = 8192;

  /** Reads {@code workspace/metrics/<stage>/metrics.jsonl}; empty when the stage has not started. */
  public static StageMetrics read(Path workspace, String stage) {
    TreeMap<Long, StepMetrics> byStep = new TreeMap<>();
    for (StepMetrics step : lines(file(workspace, stage))) {
      byStep.put(step.step(), step);
    }
    return new StageMetrics(stage, new ArrayList<>(byStep.values()));
  }

  /**
   * The newest step written, reading only the end of the file: a progress display asks every
   * second, and a long stage's file has a line per step.
   */
  public static Optional<StepMetrics> latest(Path workspace, String stage) {
    Path file = file(workspace, stage);
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    try (RandomAccessFile in = new RandomAccessFile(file.toFile(), "r")) {
      long start = Math.max(0, in.length() - TAIL_BYTES);
      byte[] tail = new byte[(int) (in.length() - start)];
      in.seek(start);
      in.readFully(tail);
      String[] lines = new String(tail, StandardCharsets.UTF_8).split("\n");
      for (int i = lines.length - 1; i >= 0; i--) {
        try {
          return Optional.of(JSON.readValue(lines[i], StepMetrics.class));
        } catch (IOException e) {
          // Half written (the newest), or cut by the tail's start (the oldest): try the one before.
        }
      }
      return Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static Path file(Path workspace, String stage) {
    return workspace.resolve("metrics").resolve(stage).resolve("metrics.jsonl");
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
