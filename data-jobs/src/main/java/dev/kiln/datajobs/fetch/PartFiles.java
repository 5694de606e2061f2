package dev.kiln.datajobs.fetch;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Opens the {@code .part} file a download writes; tests stand in a disk that fills up. */
@FunctionalInterface
public interface PartFiles {

  PartFiles DISK = (part, append) -> append
      ? FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)
      : FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);

  /** {@code part} for writing: appended to, or emptied first. */
  WritableByteChannel open(Path part, boolean append) throws IOException;
}
