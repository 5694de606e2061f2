package dev.kiln.cli.run;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One {@code kiln run} per work dir: a lock the operating system drops when the process ends, however
 * it ends, so a crashed run never leaves the dir locked. The file holds the holder's pid, for the
 * message a second run gets.
 */
final class WorkdirLock implements AutoCloseable {

  static final String FILE = ".kiln-run.lock";

  private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

  private final Path file;
  private final FileChannel channel;
  private final FileLock lock;

  private WorkdirLock(Path file, FileChannel channel, FileLock lock) {
    this.file = file;
    this.channel = channel;
    this.lock = lock;
  }

  /** Takes the work dir, or fails with {@link LocalRun.CannotRun} naming the run that holds it. */
  static WorkdirLock take(Path workdir) throws IOException {
    Files.createDirectories(workdir);
    Path file = workdir.toRealPath().resolve(FILE);
    // Within one process the OS lock cannot tell runs apart (and closing a second channel on the file
    // could drop the first one's lock): such runs are told apart here.
    if (!HELD.add(file)) {
      throw inUse(workdir, Long.toString(ProcessHandle.current().pid()));
    }
    FileChannel channel = null;
    try {
      channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      FileLock lock = channel.tryLock();
      if (lock == null) {
        throw inUse(workdir, Files.readString(file).strip());
      }
      channel.truncate(0);
      channel.write(ByteBuffer.wrap(Long.toString(ProcessHandle.current().pid()).getBytes(StandardCharsets.UTF_8)));
      return new WorkdirLock(file, channel, lock);
    } catch (IOException | RuntimeException e) {
      HELD.remove(file);
      if (channel != null) {
        channel.close();
      }
      throw e;
    }
  }

  private static LocalRun.CannotRun inUse(Path workdir, String holder) {
    return new LocalRun.CannotRun(workdir + " is in use by another kiln run" + (holder.isEmpty() ? "" : " (pid " + holder
        + ")") + ": wait for it to end, stop it (kill " + (holder.isEmpty() ? "PID" : holder) + "; it stops its"
        + " cluster), or give this run another --workdir");
  }

  @Override
  public void close() throws IOException {
    try {
      lock.release();
      channel.close();
    } finally {
      HELD.remove(file);
    }
  }
}
