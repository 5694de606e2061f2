package dev.kiln.trainer.loop;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * A TensorBoard event file: scalars per step, in the TFRecord framing (length, masked CRC-32C of
 * the length, the record, masked CRC-32C of the record) around {@code tensorflow.Event} messages
 * encoded by their published field numbers (event.proto: wall_time 1, step 2, file_version 3,
 * summary 5; summary.proto: value 1, Value.tag 1, Value.simple_value 2). Each record is flushed
 * as written, so {@code tensorboard --logdir} follows a run live and a killed trainer leaves
 * every step it reported.
 */
public final class TensorBoardEvents implements AutoCloseable {

  /** The first record of every event file, as TensorBoard's own writers put it. */
  static final String FILE_VERSION = "brain.Event:2";

  private final OutputStream out;
  private final Path file;

  private TensorBoardEvents(Path file) throws IOException {
    this.file = file;
    this.out = Files.newOutputStream(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    write(event(now(), null, FILE_VERSION, null));
  }

  /**
   * A new event file in {@code runDir} (a TensorBoard run: one per stage attempt), named the way
   * TensorBoard looks for them: {@code events.out.tfevents.<seconds>.<host>.<suffix>}.
   */
  public static TensorBoardEvents create(Path runDir, String suffix) throws IOException {
    Files.createDirectories(runDir);
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      host = "localhost";
    }
    long seconds = System.currentTimeMillis() / 1000;
    Path file = runDir.resolve("events.out.tfevents." + seconds + "." + host + "." + suffix);
    for (int n = 1; Files.exists(file); n++) {
      file = runDir.resolve("events.out.tfevents." + seconds + "." + host + "." + suffix + "-" + n);
    }
    return new TensorBoardEvents(file);
  }

  public Path file() {
    return file;
  }

  /** One event at {@code step} holding a scalar per entry; non-finite values are written as they are. */
  public void scalars(long step, Map<String, Double> values) {
    ByteArrayBuilder summary = new ByteArrayBuilder();
    values.forEach((tag, value) -> {
      ByteArrayBuilder v = new ByteArrayBuilder();
      v.bytesField(1, tag.getBytes(StandardCharsets.UTF_8));
      v.fixed32Field(2, Float.floatToRawIntBits(value.floatValue()));
      summary.bytesField(1, v.toByteArray());
    });
    write(event(now(), step, null, summary.toByteArray()));
  }

  @Override
  public void close() throws IOException {
    out.close();
  }

  private static double now() {
    return System.currentTimeMillis() / 1000.0;
  }

  private static byte[] event(double wallTime, Long step, String fileVersion, byte[] summary) {
    ByteArrayBuilder event = new ByteArrayBuilder();
    event.fixed64Field(1, Double.doubleToRawLongBits(wallTime));
    if (step != null) {
      event.varintField(2, step);
    }
    if (fileVersion != null) {
      event.bytesField(3, fileVersion.getBytes(StandardCharsets.UTF_8));
    }
    if (summary != null) {
      event.bytesField(5, summary);
    }
    return event.toByteArray();
  }

  private void write(byte[] record) {
    ByteBuffer header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
    header.putLong(record.length);
    header.putInt(maskedCrc(header.array(), 0, 8));
    ByteBuffer footer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(maskedCrc(record, 0, record.length));
    try {
      out.write(header.array());
      out.write(record);
      out.write(footer.array());
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": " + e.getMessage(), e);
    }
  }

  /** TFRecord's CRC: CRC-32C, rotated right by 15 bits plus a constant (so a CRC of CRCs is not a CRC). */
  static int maskedCrc(byte[] bytes, int offset, int length) {
    CRC32C crc = new CRC32C();
    crc.update(bytes, offset, length);
    int value = (int) crc.getValue();
    return ((value >>> 15) | (value << 17)) + 0xa282ead8;
  }

  /** Protocol-buffer wire format, for the three kinds of field an event needs. */
  private static final class ByteArrayBuilder extends java.io.ByteArrayOutputStream {

    void varint(long value) {
      while ((value & ~0x7FL) != 0) {
        write((int) ((value & 0x7F) | 0x80));
        value >>>= 7;
      }
      write((int) value);
    }

    void varintField(int field, long value) {
      varint((long) field << 3);
      varint(value);
    }

    void fixed64Field(int field, long bits) {
      varint(((long) field << 3) | 1);
      for (int i = 0; i < 8; i++) {
        write((int) (bits >>> (8 * i)));
      }
    }

    void fixed32Field(int field, int bits) {
      varint(((long) field << 3) | 5);
      for (int i = 0; i < 4; i++) {
        write(bits >>> (8 * i));
      }
    }

    void bytesField(int field, byte[] bytes) {
      varint(((long) field << 3) | 2);
      varint(bytes.length);
      write(bytes, 0, bytes.length);
    }
  }
}
