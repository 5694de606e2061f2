package dev.kiln.data.webdataset;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Streams samples out of WebDataset tar shards, as Python's {@code webdataset} groups them:
 * consecutive members with the same key (the file name up to its first dot, directories
 * included) form one sample. A missing or truncated shard, an oversize member, or a member
 * with no extension is counted in {@link Problems} and skipped; reading goes on.
 */
public final class ShardReader {

  /** Members above this are skipped: no caption or image of a sane dataset is this large. */
  public static final long DEFAULT_MAX_MEMBER_BYTES = 64L << 20;

  private final long maxMemberBytes;
  private final Problems problems;

  public ShardReader(Problems problems) {
    this(problems, DEFAULT_MAX_MEMBER_BYTES);
  }

  public ShardReader(Problems problems, long maxMemberBytes) {
    this.problems = problems;
    this.maxMemberBytes = maxMemberBytes;
  }

  /** The {@code *.tar} shards directly in a folder, sorted by name. */
  public static List<Path> shardsIn(Path folder) {
    try (java.util.stream.Stream<Path> files = Files.list(folder)) {
      return files.filter(p -> p.getFileName().toString().endsWith(".tar")).sorted().toList();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(folder + ": cannot list shards: " + e.getMessage(), e);
    }
  }

  /** Every sample of the shards, in order. */
  public void forEach(List<Path> shards, Consumer<Sample> action) {
    for (Path shard : shards) {
      readShard(shard, action);
    }
  }

  /**
   * Samples of one shard; problems go to the shared counter. Returns the sha256 of the shard's
   * bytes when it was read to the end, or null when it could not be.
   */
  public String readShard(Path shard, Consumer<Sample> action) {
    InputStream raw;
    java.security.MessageDigest sha256 = ShardWriter.sha256();
    try {
      raw = new java.security.DigestInputStream(new BufferedInputStream(Files.newInputStream(shard), 1 << 16), sha256);
    } catch (IOException e) {
      problems.add(Problems.UNREADABLE_SHARD, shard + ": " + e.getMessage());
      return null;
    }
    String name = shard.toString();
    Set<String> seenKeys = new HashSet<>();
    String key = null;
    Map<String, byte[]> members = new TreeMap<>();
    boolean oversize = false;
    try (TarArchiveInputStream tar = new TarArchiveInputStream(raw)) {
      TarArchiveEntry entry;
      while ((entry = tar.getNextEntry()) != null) {
        if (!entry.isFile()) {
          continue;
        }
        String[] split = splitKey(entry.getName());
        if (split == null) {
          problems.add(Problems.MEMBER_WITHOUT_KEY, name + ":" + entry.getName());
          continue;
        }
        if (!split[0].equals(key)) {
          emit(key, members, oversize, name, action);
          if (!seenKeys.add(split[0])) {
            problems.add(Problems.SPLIT_SAMPLE, name + ":" + split[0]);
          }
          key = split[0];
          members = new TreeMap<>();
          oversize = false;
        }
        if (entry.getSize() > maxMemberBytes) {
          problems.add(Problems.OVERSIZE_MEMBER, name + ":" + entry.getName() + " (" + entry.getSize() + " bytes)");
          oversize = true;
          continue;
        }
        members.put(split[1], tar.readAllBytes());
      }
      emit(key, members, oversize, name, action);
      raw.transferTo(java.io.OutputStream.nullOutputStream());
      return java.util.HexFormat.of().formatHex(sha256.digest());
    } catch (IOException | IllegalArgumentException e) {
      // A truncated shard still yields every complete sample before the damage.
      problems.add(Problems.TRUNCATED_SHARD, name + (key != null ? " after " + key : "") + ": " + e.getMessage());
      return null;
    }
  }

  /** Every sample of the shards in a list; for small inputs and tests. */
  public List<Sample> readAll(List<Path> shards) {
    List<Sample> samples = new java.util.ArrayList<>();
    forEach(shards, samples::add);
    return samples;
  }

  private void emit(String key, Map<String, byte[]> members, boolean oversize, String shard, Consumer<Sample> action) {
    if (key == null || members.isEmpty() || oversize) {
      return;
    }
    action.accept(new Sample(key, new TreeMap<>(members), shard));
  }

  /** {@code dir/000042.seg.jpg} becomes key {@code dir/000042} and extension {@code seg.jpg}. */
  static String[] splitKey(String memberName) {
    int slash = memberName.lastIndexOf('/');
    int dot = memberName.indexOf('.', slash + 1);
    if (dot <= slash + 1 || dot == memberName.length() - 1) {
      return null;
    }
    return new String[] {memberName.substring(0, dot), memberName.substring(dot + 1).toLowerCase(java.util.Locale.ROOT)};
  }
}
