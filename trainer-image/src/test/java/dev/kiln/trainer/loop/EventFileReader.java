package dev.kiln.trainer.loop;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnknownFieldSet;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.codec.digest.PureJavaCrc32C;

/**
 * Reads TensorBoard event files with nothing of Kiln's writer: the TFRecord framing as TensorFlow
 * documents it, CRC-32C from commons-codec, and the messages through protobuf's own parser by the
 * field numbers of tensorflow/core/util/event.proto and framework/summary.proto.
 */
final class EventFileReader {

  private EventFileReader() {}

  /** One {@code tensorflow.Event}: a file version, or a step's scalars. */
  record Event(double wallTime, long step, String fileVersion, Map<String, Float> scalars) {}

  static List<Event> read(Path file) throws IOException {
    ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    List<Event> events = new ArrayList<>();
    while (in.hasRemaining()) {
      byte[] length = new byte[8];
      in.get(length);
      int lengthCrc = in.getInt();
      check(lengthCrc, length, file, "length of record " + events.size());
      byte[] data = new byte[(int) ByteBuffer.wrap(length).order(ByteOrder.LITTLE_ENDIAN).getLong()];
      in.get(data);
      check(in.getInt(), data, file, "record " + events.size());
      events.add(event(data));
    }
    return events;
  }

  private static void check(int stored, byte[] bytes, Path file, String what) throws IOException {
    PureJavaCrc32C crc = new PureJavaCrc32C();
    crc.update(bytes, 0, bytes.length);
    long value = crc.getValue();
    int masked = (int) (((value >>> 15) | (value << 17)) + 0xa282ead8L);
    if (masked != stored) {
      throw new IOException(file + ": CRC mismatch in " + what);
    }
  }

  private static Event event(byte[] data) throws InvalidProtocolBufferException {
    UnknownFieldSet event = UnknownFieldSet.parseFrom(data);
    double wallTime = Double.longBitsToDouble(only(event.getField(1).getFixed64List(), 0L));
    long step = only(event.getField(2).getVarintList(), 0L);
    ByteString version = only(event.getField(3).getLengthDelimitedList(), null);
    Map<String, Float> scalars = new LinkedHashMap<>();
    ByteString summary = only(event.getField(5).getLengthDelimitedList(), null);
    if (summary != null) {
      for (ByteString value : UnknownFieldSet.parseFrom(summary).getField(1).getLengthDelimitedList()) {
        UnknownFieldSet v = UnknownFieldSet.parseFrom(value);
        scalars.put(v.getField(1).getLengthDelimitedList().getFirst().toString(StandardCharsets.UTF_8),
            Float.intBitsToFloat(v.getField(2).getFixed32List().getFirst()));
      }
    }
    return new Event(wallTime, step, version == null ? null : version.toString(StandardCharsets.UTF_8), scalars);
  }

  private static <T> T only(List<T> values, T absent) {
    if (values.size() > 1) {
      throw new IllegalStateException("a singular field repeated " + values.size() + " times");
    }
    return values.isEmpty() ? absent : values.getFirst();
  }
}
