package dev.kiln.trainer.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.trainer.TrainerMain;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The memory model ({@code dev.kiln.api.sizing.MemoryModel}) against the peak memory of real training
 * steps, each measured in a JVM of its own: within 15% from a 5M- to a 75M-parameter model, in both
 * attention modes and both precisions, with and without recomputation, and with the output head
 * chunked over a full-size vocabulary. Prints the table.
 *
 * <p>glibc's malloc keeps freed memory of the size of these tensors in its heap unless told to
 * map each one ({@code MALLOC_MMAP_THRESHOLD_}); the heap is touched up front. Then the resident
 * set follows the tensors that are alive, which is what the model counts (a GPU's caching
 * allocator is the same kind of slack, allowed for in {@code GPU_RUNTIME_BYTES}).
 */
class MemoryModelTest {

  static final String RECIPE_PARTS = "projector,languageModel";

  @Test
  @Timeout(value = 4, unit = TimeUnit.MINUTES)
  void measuredPeaksAreWithinFifteenPercentOfTheModel() throws Exception {
    List<List<String>> runs = List.of(
        List.of("--preset", "small", "--batch", "4"),
        List.of("--preset", "small", "--batch", "2", "--seq-len", "1024", "--attention", "Continuous"),
        List.of("--preset", "small", "--batch", "2", "--recompute"),
        List.of("--preset", "small", "--batch", "2", "--precision", "Float16Mixed"),
        List.of("--preset", "small", "--batch", "1", "--language-model", "768:8:12:4:2048:32000"),
        // Qwen's 151,936-entry vocabulary at 2 x 1024 positions: the head's logits scored a chunk at a time.
        List.of("--preset", "small", "--batch", "2", "--seq-len", "1024", "--language-model", "256:4:8:2:704:151936"));
    List<JsonNode> results = new ArrayList<>();
    StringBuilder table = new StringBuilder(String.format("%-30s %-13s %-10s %-9s %6s %10s %10s %6s%n", "model",
        "precision", "attention", "recompute", "batch", "measured", "modelled", "ratio"));
    for (List<String> run : runs) {
      JsonNode r = bench(run);
      results.add(r);
      table.append(String.format("%-30s %-13s %-10s %-9s %6d %7d MiB %7d MiB %6.2f%n", r.get("preset").asText(),
          r.get("precision").asText(), r.get("attention").asText(), r.get("recompute").asBoolean(), r.get("batch").asInt(),
          r.get("peak_memory_bytes").asLong() >> 20, r.get("model_memory_bytes").asLong() >> 20,
          r.get("memory_ratio").asDouble()));
    }
    System.out.print(table);
    for (JsonNode r : results) {
      assertThat(r.get("memory_ratio").asDouble()).as(table.toString()).isBetween(0.85, 1.15);
    }
  }

  private static JsonNode bench(List<String> options) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xms256m", "-Xmx256m", "-XX:+AlwaysPreTouch", "--enable-native-access=ALL-UNNAMED",
        "-cp", System.getProperty("java.class.path"), TrainerMain.class.getName(),
        "bench", "trainer", "--memory-only", "--steps", "2", "--trainable", RECIPE_PARTS));
    command.addAll(options);
    ProcessBuilder builder = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD);
    builder.environment().put("MALLOC_MMAP_THRESHOLD_", "65536");
    Process process = builder.start();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(3, TimeUnit.MINUTES)).isTrue();
    assertThat(process.exitValue()).as(out).isZero();
    String[] lines = out.strip().split("\n");
    return new ObjectMapper().readTree(lines[lines.length - 1]);
  }
}
