package dev.kiln.data.packed;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.data.webdataset.Sample;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Packed sequences as WebDataset samples: member {@code json} holds the segments, members
 * {@code 0.jpg}, {@code 1.jpg}, ... the images. Field order is fixed so bytes are reproducible.
 */
public final class PackedFormat {

  public static final String FORMAT = "kiln.dev/packed/v1";
  static final ObjectMapper JSON = new ObjectMapper();

  private PackedFormat() {}

  public static Map<String, byte[]> toMembers(PackedSequence sequence) {
    ObjectNode root = JSON.createObjectNode();
    root.put("format", FORMAT);
    root.put("sequenceLength", sequence.sequenceLength());
    root.put("visualTokens", sequence.visualTokens());
    root.put("imageSize", sequence.imageSize());
    root.put("length", sequence.length());
    ArrayNode segments = root.putArray("segments");
    for (PackedSequence.Segment segment : sequence.segments()) {
      ObjectNode s = segments.addObject();
      s.put("key", segment.key());
      s.put("source", segment.source());
      ArrayNode tokens = s.putArray("tokens");
      for (int t : segment.tokens()) {
        tokens.add(t);
      }
      s.put("imagePosition", segment.imagePosition());
      s.put("image", segment.image());
      ArrayNode loss = s.putArray("loss");
      for (int[] span : segment.loss()) {
        loss.addArray().add(span[0]).add(span[1]);
      }
    }
    Map<String, byte[]> members = new LinkedHashMap<>();
    try {
      members.put("json", JSON.writeValueAsBytes(root));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    for (int i = 0; i < sequence.images().size(); i++) {
      members.put(i + ".jpg", sequence.images().get(i));
    }
    return members;
  }

  /** Reads one packed sample; throws IllegalArgumentException naming the sample when malformed. */
  public static PackedSequence fromSample(Sample sample) {
    try {
      JsonNode root = JSON.readTree(new String(sample.members().get("json"), StandardCharsets.UTF_8));
      if (!FORMAT.equals(root.path("format").asText())) {
        throw new IllegalArgumentException(sample.shard() + ":" + sample.key() + ": not " + FORMAT);
      }
      List<PackedSequence.Segment> segments = new ArrayList<>();
      for (JsonNode s : root.get("segments")) {
        int[] tokens = new int[s.get("tokens").size()];
        for (int i = 0; i < tokens.length; i++) {
          tokens[i] = s.get("tokens").get(i).asInt();
        }
        List<int[]> loss = new ArrayList<>();
        for (JsonNode span : s.get("loss")) {
          loss.add(new int[] {span.get(0).asInt(), span.get(1).asInt()});
        }
        segments.add(new PackedSequence.Segment(s.get("key").asText(), s.get("source").asText(), tokens,
            s.get("imagePosition").asInt(), s.get("image").asInt(), List.copyOf(loss)));
      }
      List<byte[]> images = new ArrayList<>();
      for (int i = 0; sample.members().containsKey(i + ".jpg"); i++) {
        images.add(sample.members().get(i + ".jpg"));
      }
      return new PackedSequence(sample.key(), root.get("sequenceLength").asInt(), root.get("visualTokens").asInt(),
          root.get("imageSize").asInt(), List.copyOf(segments), List.copyOf(images));
    } catch (IOException | NullPointerException e) {
      throw new IllegalArgumentException(sample.shard() + ":" + sample.key() + ": malformed packed sequence: " + e.getMessage());
    }
  }
}
