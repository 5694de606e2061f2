package dev.kiln.datajobs.fetch;

import dev.kiln.api.runconfig.ExitCodes;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Copies one {@link RemoteFile} to its place: into {@code NAME.part} (resumed with an HTTP range
 * when a {@code .part} is there and the server honours ranges), checked against the size and the
 * digest the source gives, flushed to the disk, then renamed onto {@code NAME} in one step. Only a
 * {@code .part} is ever incomplete. A file already there with the right digest (or size, when the
 * source gives no digest) is kept.
 */
final class Download implements AutoCloseable {

  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
  private static final int BUFFER = 1 << 20;

  /** What happened to one file. */
  enum Outcome { DOWNLOADED, ALREADY_THERE }

  private final FetchHttp http;
  private final PartFiles partFiles;
  private final Duration stallTimeout;
  private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread thread = new Thread(r, "fetch-stall-watchdog");
    thread.setDaemon(true);
    return thread;
  });

  Download(FetchHttp http, PartFiles partFiles, Duration stallTimeout) {
    this.http = http;
    this.partFiles = partFiles;
    this.stallTimeout = stallTimeout;
  }

  static Path partOf(Path target) {
    return target.resolveSibling(target.getFileName() + ".part");
  }

  /** Brings {@code file} to {@code target}; throws {@link FetchFailure} naming {@code target} when it cannot. */
  Outcome fetch(RemoteFile file, Path target) throws IOException {
    Files.createDirectories(target.getParent());
    if (Files.isRegularFile(target) && alreadyThere(file, target)) {
      return Outcome.ALREADY_THERE;
    }
    Path part = partOf(target);
    boolean startedOver = false;
    int failures = 0;
    while (true) {
      long before = Files.isRegularFile(part) ? Files.size(part) : 0;
      if (file.size() >= 0 && before > file.size()) {
        Files.delete(part);
        before = 0;
      }
      try {
        Checksum expected = transfer(file, target, part, before);
        String actual = digestOf(expected, part);
        if (expected != null && !expected.hex().equals(actual)) {
          Files.deleteIfExists(part);
          if (before > 0 && !startedOver) {
            startedOver = true;  // the kept .part may be of an older version of the file: once more from byte 0
            continue;
          }
          throw new FetchFailure(ExitCodes.DATA, expected.label() + " of the download is " + actual + ", the source says "
              + expected.hex()).about(target);
        }
        try (FileChannel written = FileChannel.open(part, StandardOpenOption.WRITE)) {
          written.force(true);
        }
        Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return Outcome.DOWNLOADED;
      } catch (FetchHttp.Transient | TransferCut e) {
        long after = Files.isRegularFile(part) ? Files.size(part) : 0;
        failures = after > before ? 1 : failures + 1;  // an attempt that moved forward starts the count again
        if (failures >= http.retries().attempts()) {
          throw new FetchFailure(ExitCodes.FAILURE, FetchHttp.describe(e) + "; gave up after " + failures
              + " attempts without progress, " + after + " bytes kept in " + part.getFileName() + " to resume")
              .about(target);
        }
        http.retries().sleepBefore(failures);
      } catch (FetchFailure e) {
        throw e.getMessage().startsWith(target + ": ") ? e : e.about(target);
      }
    }
  }

  /** A transfer that ended early (the connection dropped, or the body was shorter than announced). */
  private static final class TransferCut extends IOException {
    TransferCut(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** Fills {@code part} up to the whole file; returns the digest to check it against, or null. */
  private Checksum transfer(RemoteFile file, Path target, Path part, long have) throws IOException {
    Map<String, String> range = have > 0 ? Map.of("Range", "bytes=" + have + "-") : Map.of();
    try (FetchHttp.Response response = http.open("GET", file.uri(), file.auth(), range)) {
      long offset;
      long total;
      if (response.status() == 416) {
        // Nothing past what the .part holds: it is whole if the size says so, else it is of another file.
        if (file.size() == have) {
          return expectedDigest(file, response);
        }
        Files.deleteIfExists(part);
        throw new FetchHttp.Transient("the server has no bytes past " + have + " of " + part.getFileName());
      } else if (response.status() == 206) {
        Matcher m = CONTENT_RANGE.matcher(response.headers().firstValue("Content-Range").orElse(""));
        if (!m.matches() || Long.parseLong(m.group(1)) != have) {
          Files.deleteIfExists(part);
          throw new FetchHttp.Transient("the server answered a range other than the one asked");
        }
        offset = have;
        total = m.group(3).equals("*") ? -1 : Long.parseLong(m.group(3));
      } else {
        offset = 0;  // a 200 to a range request: the server sends the whole file
        long length = response.contentLength();
        total = length;
      }
      if (file.size() >= 0 && total >= 0 && total != file.size()) {
        throw new FetchFailure(ExitCodes.DATA, "the server sends " + total + " bytes, the source lists " + file.size());
      }
      long size = file.size() >= 0 ? file.size() : total;
      Checksum expected = expectedDigest(file, response);
      copy(response.body(), part, offset, size, target);
      return expected;
    }
  }

  private static Checksum expectedDigest(RemoteFile file, FetchHttp.Response response) {
    return file.checksum() != null ? file.checksum() : file.checksumInResponse().apply(response.firstHeaders());
  }

  /** Streams {@code body} onto {@code part} from {@code offset}; a stall of {@code stallTimeout} drops the connection. */
  private void copy(InputStream body, Path part, long offset, long size, Path target) throws IOException {
    AtomicLong lastProgress = new AtomicLong(System.nanoTime());
    ScheduledFuture<?> guard = watchdog.scheduleAtFixedRate(() -> {
      if (System.nanoTime() - lastProgress.get() > stallTimeout.toNanos()) {
        try {
          body.close();
        } catch (IOException ignored) {
          // the reader sees the closed stream either way
        }
      }
    }, stallTimeout.toMillis() / 4 + 1, stallTimeout.toMillis() / 4 + 1, TimeUnit.MILLISECONDS);
    long written = offset;
    try (WritableByteChannel out = openPart(part, offset > 0, target)) {
      byte[] buffer = new byte[BUFFER];
      while (true) {
        int n;
        try {
          n = body.read(buffer);
        } catch (IOException e) {
          throw new TransferCut("the transfer broke at byte " + written + (size >= 0 ? " of " + size : "") + ": "
              + FetchHttp.describe(e), e);
        }
        if (n < 0) {
          break;
        }
        lastProgress.set(System.nanoTime());
        write(out, ByteBuffer.wrap(buffer, 0, n), part, target, written, size);
        written += n;
      }
    } finally {
      guard.cancel(false);
    }
    if (size >= 0 && written < size) {
      throw new TransferCut("the transfer ended at byte " + written + " of " + size, null);
    }
    if (size >= 0 && written > size) {
      Files.deleteIfExists(part);
      throw new FetchFailure(ExitCodes.DATA, "the server sent " + written + " bytes, more than the " + size + " announced");
    }
  }

  private WritableByteChannel openPart(Path part, boolean append, Path target) {
    try {
      return partFiles.open(part, append);
    } catch (IOException e) {
      throw diskFailure(e, part, target);
    }
  }

  private static void write(WritableByteChannel out, ByteBuffer bytes, Path part, Path target, long written, long size) {
    try {
      while (bytes.hasRemaining()) {
        out.write(bytes);
      }
    } catch (IOException e) {
      if (!isDiskFull(e)) {
        throw diskFailure(e, part, target);
      }
      String of = size >= 0 ? size + " bytes" : "the file's bytes";
      throw new FetchFailure(ExitCodes.FAILURE, "no space left on the disk after " + (written + bytes.position()) + " of "
          + of + " (" + part.getFileName() + " kept to resume)").about(target);
    }
  }

  private static boolean isDiskFull(IOException e) {
    return String.valueOf(e.getMessage()).contains("No space left");
  }

  private static FetchFailure diskFailure(IOException e, Path part, Path target) {
    return new FetchFailure(ExitCodes.FAILURE, "cannot write " + part.getFileName() + ": " + FetchHttp.describe(e))
        .about(target);
  }

  /** Whether the file at {@code target} is the one the source lists: same digest when one is known, else same size. */
  private static boolean alreadyThere(RemoteFile file, Path target) throws IOException {
    if (file.size() >= 0 && Files.size(target) != file.size()) {
      return false;
    }
    if (file.checksum() != null) {
      return file.checksum().hex().equals(digestOf(file.checksum(), target));
    }
    return file.size() >= 0;
  }

  /** The digest of a file on disk, as {@code checksum} computes it; null when there is nothing to compare with. */
  private static String digestOf(Checksum checksum, Path path) throws IOException {
    if (checksum == null) {
      return null;
    }
    MessageDigest digest = checksum.start(Files.size(path));
    try (InputStream in = Files.newInputStream(path)) {
      byte[] buffer = new byte[BUFFER];
      for (int n; (n = in.read(buffer)) > 0; ) {
        digest.update(buffer, 0, n);
      }
    }
    return Checksum.hex(digest);
  }

  @Override
  public void close() {
    watchdog.shutdownNow();
  }
}
