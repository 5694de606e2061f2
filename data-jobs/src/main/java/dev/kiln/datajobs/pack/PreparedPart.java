package dev.kiln.datajobs.pack;

import dev.kiln.data.text.SampleTokens;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
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
 * The prepared samples of one prepare task, spilled to the claim: their records (key, source,
 * tokens, resized JPEG), each record's offset and each sample's packed length. Planning reads
 * only the lengths; writing reads records in plan order, from any task's part.
 */
final class PreparedPart {

  static final String SAMPLES = "samples.bin";
  static final String OFFSETS = "offsets.bin";
  static final String LENGTHS = "lengths.bin";

  /** One prepared sample as written: what a packed sequence's segment needs. */
  record Entry(String key, String source, SampleTokens tokens, byte[] jpeg) {}

  private PreparedPart() {}

  /** Appends prepared samples to a part folder; {@link #close()} leaves the three files complete. */
  static final class Writer implements AutoCloseable {
    private final DataOutputStream samples;
    private final DataOutputStream offsets;
    private final DataOutputStream lengths;
    private final Path folder;
    private long position;
    private int count;

    Writer(Path folder) throws IOException {
      this.folder = folder;
      Files.createDirectories(folder);
      samples = open(folder.resolve(SAMPLES));
      offsets = open(folder.resolve(OFFSETS));
      lengths = open(folder.resolve(LENGTHS));
    }

    private static DataOutputStream open(Path file) throws IOException {
      return new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 1 << 20));
    }

    void add(PreparedSample sample, int packedLength) {
      try {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + sample.jpeg().length);
        DataOutputStream record = new DataOutputStream(bytes);
        record.writeUTF(sample.key());
        record.writeUTF(sample.source());
        SampleTokens tokens = sample.tokens();
        record.writeInt(tokens.tokens().length);
        for (int t : tokens.tokens()) {
          record.writeInt(t);
        }
        record.writeInt(tokens.imagePosition());
        record.writeInt(tokens.lossSpans().size());
        for (int[] span : tokens.lossSpans()) {
          record.writeInt(span[0]);
          record.writeInt(span[1]);
        }
        record.writeInt(sample.jpeg().length);
        record.write(sample.jpeg());
        offsets.writeLong(position);
        lengths.writeInt(packedLength);
        samples.writeInt(bytes.size());
        bytes.writeTo(samples);
        position += 4 + bytes.size();
        count++;
      } catch (IOException e) {
        throw new UncheckedIOException(folder + ": " + e.getMessage(), e);
      }
    }

    int count() {
      return count;
    }

    @Override
    public void close() throws IOException {
      try (samples; offsets; lengths) {
        // closes all three, even when one fails
      }
    }
  }

  /** Every part's samples as one sequence, in task order: sample {@code i} of the plan is entry {@code i} here. */
  static final class Reader implements AutoCloseable {
    private final List<Path> parts;
    private final long[] firstOfPart;
    private final long[][] offsets;
    private final FileChannel[] channels;

    /** {@code parts} in task order; each must be complete. */
    Reader(List<Path> parts) throws IOException {
      this.parts = List.copyOf(parts);
      firstOfPart = new long[parts.size() + 1];
      offsets = new long[parts.size()][];
      channels = new FileChannel[parts.size()];
      for (int p = 0; p < parts.size(); p++) {
        int count = Math.toIntExact(Files.size(parts.get(p).resolve(OFFSETS)) / Long.BYTES);
        firstOfPart[p + 1] = firstOfPart[p] + count;
      }
    }

    /** Samples in all parts. */
    int size() {
      return Math.toIntExact(firstOfPart[parts.size()]);
    }

    /** The packed length of every sample, in order. */
    int[] lengths() throws IOException {
      int[] all = new int[size()];
      for (int p = 0; p < parts.size(); p++) {
        try (DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(
            Files.newInputStream(parts.get(p).resolve(LENGTHS)), 1 << 20))) {
          for (long i = firstOfPart[p]; i < firstOfPart[p + 1]; i++) {
            all[(int) i] = in.readInt();
          }
        }
      }
      return all;
    }

    /** Where sample {@code index} is: its part, and its record's offset in that part's samples. */
    record Location(int part, long offset) {}

    Location locate(int index) {
      int part = partOf(index);
      if (offsets[part] == null) {
        try {
          offsets[part] = readOffsets(parts.get(part).resolve(OFFSETS));
        } catch (IOException e) {
          throw new UncheckedIOException(parts.get(part).resolve(OFFSETS) + ": " + e.getMessage(), e);
        }
      }
      return new Location(part, offsets[part][(int) (index - firstOfPart[part])]);
    }

    Entry read(int index) {
      return read(locate(index));
    }

    /** The record at {@code location}, read without loading its part's offsets. */
    Entry read(Location location) {
      int part = location.part();
      try {
        if (channels[part] == null) {
          channels[part] = FileChannel.open(parts.get(part).resolve(SAMPLES), StandardOpenOption.READ);
        }
        long offset = location.offset();
        ByteBuffer size = ByteBuffer.allocate(4);
        channels[part].read(size, offset);
        ByteBuffer body = ByteBuffer.allocate(size.flip().getInt());
        channels[part].read(body, offset + 4);
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(body.array()));
        String key = in.readUTF();
        String source = in.readUTF();
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
        return new Entry(key, source, new SampleTokens(tokens, imagePosition, List.copyOf(loss)), jpeg);
      } catch (IOException e) {
        throw new UncheckedIOException(parts.get(part).resolve(SAMPLES) + ": " + e.getMessage(), e);
      }
    }

    private int partOf(int index) {
      int found = java.util.Arrays.binarySearch(firstOfPart, index);
      // Several parts may start at the same index (empty ones): take the last, which holds it.
      int part = found >= 0 ? found : -found - 2;
      while (part + 1 < parts.size() && firstOfPart[part + 1] <= index) {
        part++;
      }
      return part;
    }

    private static long[] readOffsets(Path file) throws IOException {
      ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(file));
      long[] offsets = new long[all.remaining() / Long.BYTES];
      all.asLongBuffer().get(offsets);
      return offsets;
    }

    @Override
    public void close() throws IOException {
      for (FileChannel channel : channels) {
        if (channel != null) {
          channel.close();
        }
      }
    }
  }
}
