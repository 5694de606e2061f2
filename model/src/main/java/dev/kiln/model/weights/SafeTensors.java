package dev.kiln.model.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * The safetensors format, read and written in Java: an 8-byte little-endian header length, a
 * JSON header of {@code name: {dtype, shape, data_offsets}}, then the data. Reads F32, F16 and
 * BF16 (converted to float32 here: DJL aborts the JVM on BFLOAT16 tensors) and F64; writes F32
 * with sorted names and the header padded to 8 bytes, so the same tensors give the same bytes.
 */
public final class SafeTensors {

  /** A tensor as float32 values in row-major order. */
  public record Tensor(long[] shape, float[] data) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private SafeTensors() {}

  /** Receives the tensors of a file one at a time. */
  @FunctionalInterface
  public interface TensorVisitor {
    void visit(String name, Tensor tensor) throws IOException;
  }

  /** Every tensor of the file, all in memory at once: for small files (CLIP scorers, checkpoints' optimizer slices). */
  public static Map<String, Tensor> read(Path file) throws IOException {
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    each(file, tensors::put);
    return tensors;
  }

  /** A tensor as the file's header describes it: its dtype and shape, its data unread. */
  public record Entry(String dtype, long[] shape) {}

  /** The file's tensors as its header lists them, in the header's order, reading none of their data. */
  public static Map<String, Entry> header(Path file) throws IOException {
    Map<String, Entry> entries = new LinkedHashMap<>();
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      locations(channel, file).forEach((name, at) -> entries.put(name, new Entry(at.dtype(), at.shape())));
    }
    return entries;
  }

  private static JsonNode headerJson(FileChannel channel, Path file) throws IOException {
    ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    channel.read(lengthBytes, 0);
    long headerLength = lengthBytes.flip().getLong();
    if (headerLength <= 0 || headerLength > 100_000_000 || headerLength + 8 > channel.size()) {
      throw new IOException(file + ": not a safetensors file (header length " + headerLength + ")");
    }
    ByteBuffer header = ByteBuffer.allocate((int) headerLength);
    channel.read(header, 8);
    return JSON.readTree(new String(header.array(), StandardCharsets.UTF_8));
  }

  /** The dtypes Kiln converts to float32 as it reads. */
  public static final java.util.Set<String> READABLE_DTYPES = java.util.Set.of("F32", "F16", "BF16", "F64");

  /**
   * Every tensor of the file in turn, decoded from the mapped file when its turn comes: the heap
   * holds one tensor at a time (a 1.5B-parameter model's largest, its embedding, is ~0.9 GB in
   * float32), not the whole model, which goes to native tensors as it is read.
   */
  public static void each(Path file, TensorVisitor visitor) throws IOException {
    each(file, name -> true, visitor);
  }

  /** As {@link #each(Path, TensorVisitor)}, decoding only the tensors whose names {@code wanted} accepts. */
  public static void each(Path file, java.util.function.Predicate<String> wanted, TensorVisitor visitor)
      throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      for (Map.Entry<String, Location> entry : locations(channel, file).entrySet()) {
        if (!wanted.test(entry.getKey())) {
          continue;
        }
        Location at = entry.getValue();
        if (at.end() > channel.size()) {
          throw new IOException(file + ": tensor " + entry.getKey() + " runs past the end of the file");
        }
        ByteBuffer bytes = channel.map(FileChannel.MapMode.READ_ONLY, at.start(), at.end() - at.start())
            .order(ByteOrder.LITTLE_ENDIAN);
        visitor.visit(entry.getKey(), new Tensor(at.shape(),
            decode(at.dtype(), bytes, Math.toIntExact(elements(at.shape())), entry.getKey(), file)));
      }
    }
  }

  private static float[] decode(String dtype, ByteBuffer bytes, int count, String name, Path file) throws IOException {
    float[] out = new float[count];
    int width = switch (dtype) {
      case "F32" -> 4;
      case "F16", "BF16" -> 2;
      case "F64" -> 8;
      default -> throw new IOException(file + ": tensor " + name + " has dtype " + dtype + "; Kiln reads F32, F16, BF16, F64");
    };
    if (bytes.remaining() != (long) count * width) {
      throw new IOException(file + ": tensor " + name + " has " + bytes.remaining() + " bytes for " + count + " " + dtype);
    }
    for (int i = 0; i < count; i++) {
      out[i] = switch (dtype) {
        case "F32" -> bytes.getFloat(4 * i);
        case "F16" -> Float.float16ToFloat(bytes.getShort(2 * i));
        case "BF16" -> bf16ToFloat(bytes.getShort(2 * i));
        default -> (float) bytes.getDouble(8 * i);
      };
    }
    return out;
  }

  /** bfloat16 is the top half of a float32. */
  public static float bf16ToFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }

  /** float32 to bfloat16, round to nearest even (NaN stays NaN). */
  public static short floatToBf16(float value) {
    int bits = Float.floatToRawIntBits(value);
    if (Float.isNaN(value)) {
      return (short) ((bits >>> 16) | 0x40);
    }
    int rounding = 0x7fff + ((bits >>> 16) & 1);
    return (short) ((bits + rounding) >>> 16);
  }

  /** A float32 tensor to write: its shape, and its data as little-endian bytes, asked for only when its turn comes. */
  public record Source(long[] shape, Supplier<ByteBuffer> data) {

    /** A tensor already on the heap. */
    public static Source of(Tensor tensor) {
      return new Source(tensor.shape(), () -> {
        ByteBuffer bytes = ByteBuffer.allocate(4 * tensor.data().length).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(tensor.data());
        return bytes;
      });
    }
  }

  /** Writes float32 tensors (sorted by name) and optional string metadata. */
  public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
    Map<String, Source> sources = new LinkedHashMap<>();
    tensors.forEach((name, tensor) -> sources.put(name, Source.of(tensor)));
    writeEach(file, sources, metadata);
  }

  /**
   * As {@link #write}, taking each tensor's data only when its turn comes: the heap holds at most
   * one tensor (none when a source hands out a tensor's own native memory), not the whole model.
   */
  public static void writeEach(Path file, Map<String, Source> tensors, Map<String, String> metadata) throws IOException {
    Map<String, Source> sorted = new TreeMap<>(tensors);
    ObjectNode header = JSON.createObjectNode();
    if (metadata != null && !metadata.isEmpty()) {
      header.set("__metadata__", JSON.valueToTree(new TreeMap<>(metadata)));
    }
    long offset = 0;
    for (Map.Entry<String, Source> entry : sorted.entrySet()) {
      ObjectNode spec = header.putObject(entry.getKey());
      spec.put("dtype", "F32");
      var shape = spec.putArray("shape");
      for (long d : entry.getValue().shape()) {
        shape.add(d);
      }
      long size = 4 * elements(entry.getValue().shape());
      spec.putArray("data_offsets").add(offset).add(offset + size);
      offset += size;
    }
    byte[] json = JSON.writeValueAsBytes(header);
    int padded = (json.length + 7) / 8 * 8;
    ByteBuffer prefix = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    prefix.putLong(padded).put(json);
    while (prefix.hasRemaining()) {
      prefix.put((byte) ' ');
    }
    try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      writeFully(out, prefix.flip());
      for (Map.Entry<String, Source> entry : sorted.entrySet()) {
        ByteBuffer data = entry.getValue().data().get().duplicate();
        long size = 4 * elements(entry.getValue().shape());
        if (data.remaining() != size) {
          throw new IOException(file + ": tensor " + entry.getKey() + " gave " + data.remaining() + " bytes for "
              + size / 4 + " float32 values");
        }
        writeFully(out, data);
      }
    }
  }

  private static void writeFully(FileChannel out, ByteBuffer bytes) throws IOException {
    while (bytes.hasRemaining()) {
      out.write(bytes);
    }
  }

  private static long elements(long[] shape) {
    long count = 1;
    for (long d : shape) {
      count *= d;
    }
    return count;
  }

  /** Where a tensor's data lies in its file, in bytes from the file's start: for reading a part of it. */
  public record Location(String dtype, long[] shape, long start, long end) {}

  /** Each tensor's location by name, reading none of their data; one past the file's end or of the wrong size fails. */
  public static Map<String, Location> locations(Path file) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      Map<String, Location> locations = locations(channel, file);
      for (Map.Entry<String, Location> entry : locations.entrySet()) {
        Location at = entry.getValue();
        if (at.end() > channel.size() || at.end() - at.start() != 4 * elements(at.shape()) && "F32".equals(at.dtype())) {
          throw new IOException(file + ": tensor " + entry.getKey() + " runs past the end of the file or has the wrong size");
        }
      }
      return locations;
    }
  }

  /** The header's tensors, in its order, with their data's place in the file, checking nothing. */
  private static Map<String, Location> locations(FileChannel channel, Path file) throws IOException {
    JsonNode json = headerJson(channel, file);
    ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    channel.read(lengthBytes, 0);
    long dataStart = 8 + lengthBytes.flip().getLong();
    Map<String, Location> locations = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      if (entry.getKey().equals("__metadata__")) {
        continue;
      }
      JsonNode spec = entry.getValue();
      long[] shape = new long[spec.path("shape").size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = spec.get("shape").get(i).asLong();
      }
      locations.put(entry.getKey(), new Location(spec.path("dtype").asText(), shape,
          dataStart + spec.path("data_offsets").path(0).asLong(), dataStart + spec.path("data_offsets").path(1).asLong()));
    }
    return locations;
  }

  /** {@code count} float32 values of the tensor at {@code location}, from value {@code offset}, into {@code into} at {@code at}. */
  public static void readFloats(FileChannel channel, Location location, long offset, float[] into, int at, int count)
      throws IOException {
    long from = location.start() + 4 * offset;
    if (!"F32".equals(location.dtype()) || from + 4L * count > location.end()) {
      throw new IOException("reading " + count + " values at " + offset + " of a " + location.dtype() + " tensor of "
          + (location.end() - location.start()) / 4 + " values");
    }
    ByteBuffer bytes = ByteBuffer.allocate(4 * Math.min(count, READ_CHUNK)).order(ByteOrder.LITTLE_ENDIAN);
    for (int done = 0; done < count; ) {
      int n = Math.min(count - done, READ_CHUNK);
      bytes.clear().limit(4 * n);
      while (bytes.hasRemaining()) {
        if (channel.read(bytes, from + 4L * done + bytes.position()) < 0) {
          throw new IOException("unexpected end of file reading a tensor");
        }
      }
      bytes.flip().asFloatBuffer().get(into, at + done, n);
      done += n;
    }
  }

  private static final int READ_CHUNK = 1 << 20;
}
