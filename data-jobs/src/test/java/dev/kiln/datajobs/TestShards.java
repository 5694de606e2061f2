package dev.kiln.datajobs;

import dev.kiln.data.image.Images;
import dev.kiln.data.text.WordLevelTokenizerFile;
import dev.kiln.data.webdataset.ShardWriter;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Small image-caption shards for tests, with chosen defects. */
public final class TestShards {

  public static final List<String> WORDS = List.of("a", "red", "green", "blue", "circle", "square", "on", "the", "left",
      "right", "what", "color", "is", "shape", "?", "user", "assistant");
  static final String[] COLORS = {"red", "green", "blue"};
  static final String[] SHAPES = {"circle", "square"};

  private TestShards() {}

  public static Path tokenizer(Path dir) {
    Path file = dir.resolve("tokenizer.json");
    WordLevelTokenizerFile.write(file, WORDS);
    return file;
  }

  /** Qwen2.5-Instruct's published tokenizer.json (its tokenizer_config.json beside it), from the repository's testdata. */
  public static Path qwenTokenizer() {
    return Path.of(System.getProperty("kiln.root", "../"), "testdata", "qwen2.5-tokenizer", "tokenizer.json");
  }

  public static byte[] png(int seed, int size) {
    Random random = new Random(seed);
    BufferedImage image = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setColor(new Color(random.nextInt(0xffffff)));
    g.fillRect(0, 0, size, size);
    g.setColor(Color.WHITE);
    g.fillOval(size / 4, size / 4, size / 2, size / 2);
    g.dispose();
    return Images.encodePng(image);
  }

  /** Caption samples {@code 000000..}: json with uid (32 hex) and clip_score = i / count. */
  public static List<ShardWriter.WrittenShard> captions(Path dir, int count, int perShard) {
    try (ShardWriter writer = new ShardWriter(dir, "raw", perShard, Long.MAX_VALUE)) {
      for (int i = 0; i < count; i++) {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("png", png(i, 48));
        String caption = "a " + COLORS[i % 3] + " " + SHAPES[i % 2] + (i % 5 == 0 ? " on the left" : "");
        m.put("txt", caption.getBytes(StandardCharsets.UTF_8));
        m.put("json", String.format("{\"uid\":\"%032x\",\"clip_score\":%.3f}", i, (double) i / count)
            .getBytes(StandardCharsets.UTF_8));
        writer.write(String.format("%06d", i), m);
      }
      writer.close();
      return writer.shards();
    }
  }

  /** One shard with one sample of each defect, plus two good ones. */
  public static Path defects(Path dir) {
    try (ShardWriter writer = new ShardWriter(dir, "defects", 100, Long.MAX_VALUE)) {
      writer.write("good1", Map.of("png", png(1, 32), "txt", "a red circle".getBytes(), "json", uid(1)));
      writer.write("noimage", Map.of("txt", "a red circle".getBytes(), "json", uid(2)));
      writer.write("emptytext", Map.of("png", png(3, 32), "txt", "  ".getBytes(), "json", uid(3)));
      writer.write("latin1", Map.of("png", png(4, 32), "txt", new byte[] {'c', (byte) 0xE9}, "json", uid(4)));
      writer.write("badjson", Map.of("png", png(5, 32), "txt", "a blue square".getBytes(), "json", "{nope".getBytes()));
      writer.write("notanimage", Map.of("png", "not png".getBytes(), "txt", "a green circle".getBytes(), "json", uid(6)));
      writer.write("good2", Map.of("jpg", png(7, 32), "txt", "a blue circle".getBytes(), "json", uid(7)));
      writer.close();
      return writer.shards().getFirst().path();
    }
  }

  /** Instruction samples: LLaVA conversations about the image. */
  public static List<ShardWriter.WrittenShard> conversations(Path dir, int count) {
    try (ShardWriter writer = new ShardWriter(dir, "qa", 1000, Long.MAX_VALUE)) {
      for (int i = 0; i < count; i++) {
        String json = "{\"conversations\":[{\"from\":\"human\",\"value\":\"<image>\\nwhat color is the shape?\"},"
            + "{\"from\":\"gpt\",\"value\":\"" + COLORS[i % 3] + "\"}]}";
        writer.write(String.format("q%05d", i), Map.of("png", png(100 + i, 40), "json", json.getBytes()));
      }
      writer.close();
      return writer.shards();
    }
  }

  static byte[] uid(int i) {
    return String.format("{\"uid\":\"%032x\",\"clip_score\":0.5}", i).getBytes();
  }
}
