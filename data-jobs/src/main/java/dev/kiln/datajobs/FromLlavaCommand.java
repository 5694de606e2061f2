package dev.kiln.datajobs;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.api.runconfig.FailureReport;
import dev.kiln.data.text.SampleTokens;
import dev.kiln.data.webdataset.Problems;
import dev.kiln.data.webdataset.ShardWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Converts a LLaVA-style JSON list ({@code [{"id", "image", "conversations": [{"from", "value"}]}]},
 * as LLaVA-665k and MAmmoTH-VL ship) into WebDataset shards Kiln packs: per entry its image's
 * bytes as they are and a {@code json} with the {@code conversations}, or with {@code --kind
 * captions} a {@code txt} holding the last answer (LLaVA's 558k pre-training captions). Streams
 * the list, so a file larger than memory converts. Entries without an image, with an image that
 * is not there, or without an answer are skipped and counted by reason in {@code report.json}.
 */
@Command(name = "from-llava", mixinStandardHelpOptions = true,
    description = "Convert a LLaVA-style JSON list and its image folder into WebDataset shards.")
public final class FromLlavaCommand implements Callable<Integer> {

  /** What the packer can decode (Java's own decoders: no WebP). */
  static final Set<String> IMAGE_TYPES = Set.of("jpg", "jpeg", "png");

  @Option(names = "--json", required = true, paramLabel = "FILE", description = "The JSON list")
  Path json;

  @Option(names = "--images", required = true, paramLabel = "DIR", description = "Folder the entries' image paths are relative to")
  Path images;

  @Option(names = "--output", required = true, paramLabel = "DIR")
  Path output;

  @Option(names = "--kind", defaultValue = "instructions", paramLabel = "instructions|captions",
      description = "Write conversations (default), or the last answer as a caption")
  String kind;

  @Option(names = "--shard-size", defaultValue = "10000", description = "Samples per shard")
  int shardSize;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    PrintWriter err = spec.commandLine().getErr();
    String layout = kind.toLowerCase(Locale.ROOT);
    if (!layout.equals("captions") && !layout.equals("instructions")) {
      return FailureReport.usage(spec.qualifiedName(), "--kind " + kind + ": must be instructions or captions", err);
    }
    boolean captions = layout.equals("captions");
    if (!Files.isRegularFile(json)) {
      err.println("from-llava: --json " + json + ": no such file");
      err.flush();
      return ExitCodes.CONFIG;
    }
    ObjectMapper mapper = new ObjectMapper();
    Problems skipped = new Problems();
    long entries = 0;
    Files.createDirectories(output);
    try (JsonParser parser = mapper.createParser(json.toFile());
        ShardWriter writer = new ShardWriter(output, "llava", shardSize, Long.MAX_VALUE)) {
      if (parser.nextToken() != JsonToken.START_ARRAY) {
        err.println("from-llava: " + json + ": not a JSON list of entries");
        err.flush();
        return ExitCodes.DATA;
      }
      parser.nextToken();
      MappingIterator<JsonNode> it = mapper.readerFor(JsonNode.class).readValues(parser);
      while (it.hasNextValue()) {
        JsonNode entry = it.nextValue();
        String where = "entry " + entries + (entry.hasNonNull("id") ? " (id " + entry.get("id").asText() + ")" : "");
        String key = String.format("%09d", entries++);
        Map<String, byte[]> members = new LinkedHashMap<>();
        String problem = convert(entry, captions, mapper, members);
        if (problem != null) {
          skipped.add(problem, where);
          continue;
        }
        writer.write(key, members);
      }
      writer.close();
      long written = writer.shards().stream().mapToLong(ShardWriter.WrittenShard::samples).sum();
      ObjectNode report = mapper.createObjectNode();
      report.put("input", json.toString()).put("entries", entries).put("written", written)
          .put("shards", writer.shards().size());
      report.set("skipped", mapper.valueToTree(skipped.counts()));
      report.set("skippedExamples", mapper.valueToTree(skipped.examples()));
      Files.writeString(output.resolve("report.json"), mapper.writerWithDefaultPrettyPrinter().writeValueAsString(report) + "\n");
      err.printf("from-llava: %d entries -> %d samples in %d shards, %d skipped %s%n", entries, written,
          writer.shards().size(), skipped.total(), skipped.counts());
      err.flush();
      return written > 0 ? ExitCodes.OK : ExitCodes.DATA;
    }
  }

  /** Fills {@code members} from one entry, or returns why it cannot be a sample. */
  private String convert(JsonNode entry, boolean captions, ObjectMapper mapper, Map<String, byte[]> members)
      throws IOException {
    JsonNode conversations = entry.path("conversations");
    if (!conversations.isArray() || conversations.isEmpty()) {
      return "no_conversations";
    }
    String answer = null;
    for (JsonNode turn : conversations) {
      String from = turn.path("from").asText("");
      if (SampleTokens.Turn.isAssistant(from) && turn.path("value").isTextual()) {
        answer = turn.get("value").asText();
      }
    }
    if (answer == null || answer.isBlank()) {
      return "no_answer";
    }
    if (!entry.path("image").isTextual()) {
      return "no_image";  // text-only turns: every Kiln sample has one image
    }
    String relative = entry.get("image").asText();
    String extension = relative.substring(relative.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
    Path image = images.resolve(relative).normalize();
    if (!image.startsWith(images.normalize())) {
      return "image_outside_the_images_folder";
    }
    if (!IMAGE_TYPES.contains(extension)) {
      return "image_type_not_jpeg_or_png";
    }
    if (!Files.isRegularFile(image)) {
      return "image_missing";
    }
    members.put(extension.equals("jpeg") ? "jpg" : extension, Files.readAllBytes(image));
    ObjectNode meta = mapper.createObjectNode();
    meta.put("id", entry.path("id").asText(""));
    meta.put("image", relative);
    if (captions) {
      members.put("txt", answer.strip().getBytes(StandardCharsets.UTF_8));
    } else {
      meta.set("conversations", conversations);
    }
    members.put("json", mapper.writeValueAsBytes(meta));
    return null;
  }
}
