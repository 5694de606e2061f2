package dev.kiln.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.data.packing.BinCompletion;
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
 * Plans bins for a length distribution at 4096 with both planners, bin completion (the pack Job's
 * default) and first-fit-decreasing (the recipe's), and reports each one's fill and planning
 * speed. The default distribution is recipe-like: 144 visual tokens plus BOS, newline and EOS
 * around a caption whose length is heavy-tailed: most are CLIP-era captions (log-normal, median
 * 18 tokens, capped at 77), one in twenty a long descriptive caption (log-normal, median 160,
 * capped at 1024). {@code --lengths FILE} reads one length per line instead (a real dataset's).
 */
@Command(name = "packing", mixinStandardHelpOptions = true,
    description = "Fill and planning speed of bin completion and first-fit-decreasing.")
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
    int[] warmup = recipeLike(50_000, visualTokens, new Random(1));
    BinCompletion.plan(warmup, capacity);
    FirstFitDecreasing.plan(warmup, capacity);
    long start = System.nanoTime();
    PackingPlan completed = BinCompletion.plan(lengths, capacity);
    double completionSeconds = (System.nanoTime() - start) / 1e9;
    start = System.nanoTime();
    PackingPlan firstFit = FirstFitDecreasing.plan(lengths, capacity);
    double firstFitSeconds = (System.nanoTime() - start) / 1e9;
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("bench", "packing");
    result.put("samples", lengths.length);
    result.put("mean_length", Math.round(10.0 * java.util.Arrays.stream(lengths).average().orElse(0)) / 10.0);
    result.put("capacity", capacity);
    result.put("bins", completed.bins().size());
    result.put("fill", completed.fill());
    result.put("samples_per_s", Math.round(lengths.length / completionSeconds));
    result.put("ffd_bins", firstFit.bins().size());
    result.put("ffd_fill", firstFit.fill());
    result.put("ffd_samples_per_s", Math.round(lengths.length / firstFitSeconds));
    result.put("goal_fill", 0.998);
    result.put("goal_samples_per_s", 200_000);
    spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(result));
    spec.commandLine().getOut().flush();
    return 0;
  }

  static int[] recipeLike(int count, int visualTokens, Random random) {
    int[] lengths = new int[count];
    for (int i = 0; i < count; i++) {
      boolean descriptive = random.nextInt(20) == 0;
      double median = descriptive ? 160 : 18;
      double sigma = descriptive ? 0.5 : 0.6;
      int cap = descriptive ? 1024 : 77;
      int caption = (int) Math.round(Math.exp(Math.log(median) + sigma * random.nextGaussian()));
      lengths[i] = visualTokens + 3 + Math.max(1, Math.min(cap, caption));
    }
    return lengths;
  }

  private static int[] read(Path file) throws IOException {
    return Files.readAllLines(file).stream().map(String::strip).filter(s -> !s.isEmpty()).mapToInt(Integer::parseInt)
        .toArray();
  }
}
