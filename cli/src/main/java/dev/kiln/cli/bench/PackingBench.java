package dev.kiln.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.data.packing.FirstFitDecreasing;
import dev.kiln.data.packing.PackingPlan;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Plans bins for a length distribution at 4096 and reports fill and planning speed. The default
 * distribution is recipe-like: 144 visual tokens plus BOS, newline, a caption of log-normal
 * length (median about 20 tokens, capped at 77 as CLIP-era captions are) and EOS.
 */
@Command(name = "packing", mixinStandardHelpOptions = true, description = "First-fit-decreasing fill and speed.")
public final class PackingBench implements Callable<Integer> {

  @Option(names = "--lengths", paramLabel = "FILE", description = "One sample length per line")
  Path lengthsFile;

  @Option(names = "--samples", defaultValue = "1000000")
  int samples;

  @Option(names = "--capacity", defaultValue = "4096")
  int capacity;

  @Option(names = "--visual-tokens", defaultValue = "144")
  int visualTokens;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    int[] lengths = lengthsFile != null ? read(lengthsFile) : recipeLike(samples, visualTokens, new Random(7));
    FirstFitDecreasing.plan(recipeLike(50_000, visualTokens, new Random(1)), capacity);
    long start = System.nanoTime();
    PackingPlan plan = FirstFitDecreasing.plan(lengths, capacity);
    double seconds = (System.nanoTime() - start) / 1e9;
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("bench", "packing");
    result.put("samples", lengths.length);
    result.put("capacity", capacity);
    result.put("bins", plan.bins().size());
    result.put("fill", plan.fill());
    result.put("samples_per_s", Math.round(lengths.length / seconds));
    result.put("goal_fill", 0.995);
    result.put("goal_samples_per_s", 1_000_000);
    spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(result));
    spec.commandLine().getOut().flush();
    return 0;
  }

  static int[] recipeLike(int count, int visualTokens, Random random) {
    int[] lengths = new int[count];
    for (int i = 0; i < count; i++) {
      int caption = (int) Math.round(Math.exp(Math.log(20) + 0.5 * random.nextGaussian()));
      lengths[i] = visualTokens + 3 + Math.max(1, Math.min(77, caption));
    }
    return lengths;
  }

  private static int[] read(Path file) throws IOException {
    return Files.readAllLines(file).stream().map(String::strip).filter(s -> !s.isEmpty()).mapToInt(Integer::parseInt)
        .toArray();
  }
}
