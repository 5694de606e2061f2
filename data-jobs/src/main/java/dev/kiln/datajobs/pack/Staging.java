package dev.kiln.datajobs.pack;

import dev.kiln.data.text.SampleTokens;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Prepared samples spilled to one file between planning and writing, so a pack job over
 * millions of samples holds only offsets and lengths in memory, whatever the plan's order.
 */
final class Staging implements AutoCloseable {

  private final Path file;
  private final DataOutputStream out;
  private final List<Long> offsets = new ArrayList<>();
  private final List<String> keys = new ArrayList<>();
  private final List<String> sources = new ArrayList<>();
  private long position;
  private FileChannel reader;

  Staging(Path file) throws IOException {
    this.file = file;
    this.out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 1 << 20));
  }

  /** Appends a sample; returns its index. */
  int add(PreparedSample sample) {
    try {
      offsets.add(position);
      keys.add(sample.key());
      sources.add(sample.source());
      SampleTokens tokens = sample.tokens();
      int size = 4 + 4 * tokens.tokens().length + 4 + 4 + 8 * tokens.lossSpans().size() + 4 + sample.jpeg().length;
      out.writeInt(size);
      out.writeInt(tokens.tokens().length);
      for (int t : tokens.tokens()) {
        out.writeInt(t);
      }
      out.writeInt(tokens.imagePosition());
      out.writeInt(tokens.lossSpans().size());
      for (int[] span : tokens.lossSpans()) {
        out.writeInt(span[0]);
        out.writeInt(span[1]);
      }
      out.writeInt(sample.jpeg().length);
      out.write(sample.jpeg());
      position += 4 + size;
      return offsets.size() - 1;
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": " + e.getMessage(), e);
    }
  }

  String key(int index) {
    return keys.get(index);
  }

  String source(int index) {
    return sources.get(index);
  }

  /** Tokens and JPEG of sample {@code index}. */
  record Entry(SampleTokens tokens, byte[] jpeg) {}

  Entry read(int index) {
    try {
      if (reader == null) {
        out.close();
        reader = FileChannel.open(file, StandardOpenOption.READ);
      }
      ByteBuffer sizeBuffer = ByteBuffer.allocate(4);
      reader.read(sizeBuffer, offsets.get(index));
      ByteBuffer body = ByteBuffer.allocate(sizeBuffer.flip().getInt());
      reader.read(body, offsets.get(index) + 4);
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(body.array()));
      int[] tokens = new int[in.readInt()];
      for (int i = 0; i < tokens.length; i++) {
        tokens[i] = in.readInt();
      }
      int imagePosition = in.readInt();
      List<int[]> loss = new ArrayList<>();
      for (int spans = in.readInt(), i = 0; i < spans; i++) {
        loss.add(new int[] {in.readInt(), in.readInt()});
      }
      byte[] jpeg = in.readNBytes(in.readInt());
      return new Entry(new SampleTokens(tokens, imagePosition, List.copyOf(loss)), jpeg);
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": " + e.getMessage(), e);
    }
  }

  @Override
  public void close() throws IOException {
    if (reader != null) {
      reader.close();
    } else {
      out.close();
    }
    Files.deleteIfExists(file);
  }
}
