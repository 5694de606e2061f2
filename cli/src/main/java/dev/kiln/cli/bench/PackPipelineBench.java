package dev.kiln.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.data.image.Images;
import dev.kiln.data.text.WordLevelTokenizerFile;
import dev.kiln.data.webdataset.ShardWriter;
import dev.kiln.datajobs.pack.PackCommand;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Packing end to end on generated JPEG shards (512x384, like img2dataset's output), its four steps
 * timed apart, against the bare cost of its heaviest part measured in the same run: decode, resize
 * to the encoder's side and re-encode, on the same threads. Goal: pack at least 0.7x that rate.
 */
@Command(name = "pack-pipeline", mixinStandardHelpOptions = true, description = "Pack job throughput vs bare image work.")
public final class PackPipelineBench implements Callable<Integer> {

  @Option(names = "--images", defaultValue = "1200")
  int images;

  @Option(names = "--image-size", defaultValue = "384")
  int imageSize;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Path dir = Files.createTempDirectory("kiln-bench-pack");
    try {
      List<byte[]> jpegs = generate(dir.resolve("raw"), images);
      Path tokenizer = dir.resolve("tokenizer.json");
      WordLevelTokenizerFile.write(tokenizer, List.of("a", "photo", "of", "red", "green", "blue", "shape"));

      bare(jpegs.subList(0, Math.min(200, jpegs.size())));
      long start = System.nanoTime();
      bare(jpegs);
      double bareRate = jpegs.size() / ((System.nanoTime() - start) / 1e9);

      // The four steps one after another, as the operator's Jobs run them, each timed.
      Map<String, Double> seconds = new LinkedHashMap<>();
      for (String step : List.of("prepare", "plan", "write", "finish")) {
        start = System.nanoTime();
        int exit = new CommandLine(new PackCommand()).setErr(new PrintWriter(new StringWriter())).execute(
            "--input", dir.resolve("raw").toString(), "--output", dir.resolve("packed").toString(),
            "--tokenizer", tokenizer.toString(), "--seq-len", "4096", "--visual-tokens", "144",
            "--image-size", Integer.toString(imageSize), "--step", step,
            "--termination-log", dir.resolve("termination-log").toString());
        seconds.put(step, (System.nanoTime() - start) / 1e9);
        if (exit != 0) {
          throw new IllegalStateException("pack --step " + step + " exited " + exit);
        }
      }
      double total = seconds.values().stream().mapToDouble(Double::doubleValue).sum();
      double packRate = jpegs.size() / total;
      int threads = Runtime.getRuntime().availableProcessors();
      Map<String, Object> result = new LinkedHashMap<>();
      result.put("bench", "pack-pipeline");
      result.put("images", jpegs.size());
      result.put("threads", threads);
      result.put("images_per_s", Math.round(packRate * 10) / 10.0);
      result.put("prepare_images_per_s_per_core", Math.round(jpegs.size() / seconds.get("prepare") / threads * 10) / 10.0);
      result.put("write_images_per_s", Math.round(jpegs.size() / seconds.get("write") * 10) / 10.0);
      seconds.forEach((step, s) -> result.put(step + "_s", Math.round(s * 1000) / 1000.0));
      result.put("decode_resize_images_per_s", Math.round(bareRate * 10) / 10.0);
      result.put("ratio", Math.round(packRate / bareRate * 1000) / 1000.0);
      result.put("goal_ratio", 0.7);
      spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(result));
      spec.commandLine().getOut().flush();
      return 0;
    } finally {
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  /** Decode, resize and re-encode every image, in parallel as the pack job does. */
  private void bare(List<byte[]> jpegs) {
    long checksum = jpegs.parallelStream()
        .mapToLong(bytes -> Images.encodeJpeg(Images.resizeSquare(Images.decode(bytes), imageSize), 0.9f).length).sum();
    if (checksum == 0) {
      throw new IllegalStateException("no bytes");
    }
  }

  private static List<byte[]> generate(Path dir, int count) throws IOException {
    List<byte[]> jpegs = IntStream.range(0, count).parallel().mapToObj(i -> {
      Random random = new Random(i);
      BufferedImage image = new BufferedImage(512, 384, BufferedImage.TYPE_INT_RGB);
      Graphics2D g = image.createGraphics();
      g.setPaint(new java.awt.GradientPaint(0, 0, new Color(random.nextInt(0xffffff)), 512, 384,
          new Color(random.nextInt(0xffffff))));
      g.fillRect(0, 0, 512, 384);
      for (int s = 0; s < 6; s++) {
        g.setColor(new Color(random.nextInt(0xffffff)));
        g.fillOval(random.nextInt(400), random.nextInt(300), 40 + random.nextInt(100), 40 + random.nextInt(100));
      }
      g.dispose();
      return Images.encodeJpeg(image, 0.9f);
    }).toList();
    List<byte[]> out = new ArrayList<>(jpegs);
    try (ShardWriter writer = new ShardWriter(dir, "bench", 300, Long.MAX_VALUE)) {
      for (int i = 0; i < out.size(); i++) {
        writer.write(String.format("%06d", i), Map.of("jpg", out.get(i),
            "txt", "a photo of a red shape".getBytes(StandardCharsets.UTF_8)));
      }
    }
    return out;
  }
}
