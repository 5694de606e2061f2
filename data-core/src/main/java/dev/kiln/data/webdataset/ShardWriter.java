package dev.kiln.data.webdataset;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Writes samples into WebDataset shards {@code <prefix>-000000.tar}, {@code -000001.tar}, ...,
 * starting a new shard past {@code maxSamples} or {@code maxBytes}. Tar headers are fixed
 * (mtime 0, uid/gid 0, mode 0644, no user names), members sorted by extension: the same
 * samples always give the same bytes. Each shard is written under a temporary name and renamed
 * when complete, so a reader never sees half a shard.
 */
public final class ShardWriter implements AutoCloseable {

  /** A finished shard and the sha256 of its bytes. */
  public record WrittenShard(Path path, long samples, long bytes, String sha256) {}

  private final Path directory;
  private final String prefix;
  private final long maxSamples;
  private final long maxBytes;
  private final int firstNumber;
  private final List<WrittenShard> written = new ArrayList<>();

  private TarArchiveOutputStream tar;
  private DigestOutputStream digest;
  private Path current;
  private long samplesInShard;
  private long bytesInShard;

  public ShardWriter(Path directory, String prefix, long maxSamples, long maxBytes) {
    this(directory, prefix, maxSamples, maxBytes, 0);
  }

  /** Numbers shards from {@code firstNumber}: one writer among several, each writing its own run of a set. */
  public ShardWriter(Path directory, String prefix, long maxSamples, long maxBytes, int firstNumber) {
    this.directory = directory;
    this.prefix = prefix;
    this.maxSamples = maxSamples;
    this.maxBytes = maxBytes;
    this.firstNumber = firstNumber;
  }

  public void write(Sample sample) {
    write(sample.key(), sample.members());
  }

  /** Writes one sample; {@code members} maps extension to bytes. */
  public void write(String key, Map<String, byte[]> members) {
    try {
      if (tar == null || samplesInShard >= maxSamples || bytesInShard >= maxBytes) {
        roll();
      }
      for (Map.Entry<String, byte[]> member : new java.util.TreeMap<>(members).entrySet()) {
        TarArchiveEntry entry = new TarArchiveEntry(key + "." + member.getKey(), true);
        entry.setSize(member.getValue().length);
        entry.setModTime(0L);
        entry.setMode(0100644);
        entry.setUserId(0);
        entry.setGroupId(0);
        entry.setUserName("");
        entry.setGroupName("");
        tar.putArchiveEntry(entry);
        tar.write(member.getValue());
        tar.closeArchiveEntry();
        bytesInShard += member.getValue().length + 512;
      }
      samplesInShard++;
    } catch (IOException e) {
      throw new UncheckedIOException("writing " + current + ": " + e.getMessage(), e);
    }
  }

  /** Shards written so far (all of them once closed). */
  public List<WrittenShard> shards() {
    return List.copyOf(written);
  }

  @Override
  public void close() {
    try {
      finishShard();
    } catch (IOException e) {
      throw new UncheckedIOException("closing " + current + ": " + e.getMessage(), e);
    }
  }

  /** Gives up the shard being written: its temporary file is deleted, never renamed into place. */
  public void abort() {
    if (tar == null) {
      return;
    }
    try {
      tar.close();
    } catch (IOException e) {
      // closing what is being thrown away
    }
    try {
      Files.deleteIfExists(temporary(current));
    } catch (IOException e) {
      throw new UncheckedIOException("deleting " + temporary(current) + ": " + e.getMessage(), e);
    }
    tar = null;
  }

  private void roll() throws IOException {
    finishShard();
    Files.createDirectories(directory);
    current = directory.resolve(String.format("%s-%06d.tar", prefix, firstNumber + written.size()));
    OutputStream out = Files.newOutputStream(temporary(current));
    digest = new DigestOutputStream(new BufferedOutputStream(out, 1 << 16), sha256());
    tar = new TarArchiveOutputStream(digest);
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    samplesInShard = 0;
    bytesInShard = 0;
  }

  private void finishShard() throws IOException {
    if (tar == null) {
      return;
    }
    tar.finish();
    tar.close();
    Files.move(temporary(current), current, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    written.add(new WrittenShard(current, samplesInShard, Files.size(current),
        HexFormat.of().formatHex(digest.getMessageDigest().digest())));
    tar = null;
  }

  private static Path temporary(Path shard) {
    return shard.resolveSibling("." + shard.getFileName() + ".partial");
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
