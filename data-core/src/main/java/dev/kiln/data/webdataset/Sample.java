package dev.kiln.data.webdataset;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One WebDataset sample: the tar members sharing a key ({@code 000042.jpg}, {@code 000042.txt},
 * {@code 000042.json} form key {@code 000042}), by extension. {@code shard} says where it came from.
 */
public record Sample(String key, SortedMap<String, byte[]> members, String shard) {

  /** Image extensions, in the order a sample's image is looked for. */
  public static final String[] IMAGE_EXTENSIONS = {"jpg", "jpeg", "png", "webp"};

  public Sample {
    members = Collections.unmodifiableSortedMap(new TreeMap<>(members));
  }

  public static Sample of(String key, Map<String, byte[]> members) {
    return new Sample(key, new TreeMap<>(members), "");
  }

  /** The first image member, by {@link #IMAGE_EXTENSIONS} order. */
  public Optional<Map.Entry<String, byte[]>> image() {
    for (String ext : IMAGE_EXTENSIONS) {
      if (members.containsKey(ext)) {
        return Optional.of(Map.entry(ext, members.get(ext)));
      }
    }
    return Optional.empty();
  }

  /** A member decoded as strict UTF-8; empty when missing, throws when not UTF-8. */
  public Optional<String> text(String ext) throws CharacterCodingException {
    byte[] bytes = members.get(ext);
    if (bytes == null) {
      return Optional.empty();
    }
    return Optional.of(StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT)
        .decode(ByteBuffer.wrap(bytes)).toString());
  }

  /** Total payload bytes. */
  public long size() {
    return members.values().stream().mapToLong(b -> b.length).sum();
  }
}
