package dev.kiln.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class TensorBoardEventsTest {

  @TempDir
  Path dir;

  @Test
  void anIndependentReaderFindsTheVersionThenEveryStepsScalars() throws IOException {
    Path file;
    try (TensorBoardEvents events = TensorBoardEvents.create(dir.resolve("pretrain/attempt-1"), "rank0")) {
      file = events.file();
      for (long step = 1; step <= 300; step++) {
        Map<String, Double> scalars = new LinkedHashMap<>();
        scalars.put("train/loss", 10.0 / step);
        scalars.put("train/learning_rate", 3e-4 * step / 300);
        scalars.put("train/grad_norm", step == 7 ? Double.POSITIVE_INFINITY : 1.5);
        events.scalars(step, scalars);
      }
    }
    assertThat(file.getFileName().toString()).startsWith("events.out.tfevents.");

    List<EventFileReader.Event> read = EventFileReader.read(file);

    assertThat(read).hasSize(301);
    assertThat(read.getFirst().fileVersion()).isEqualTo("brain.Event:2");
    assertThat(read.getFirst().scalars()).isEmpty();
    assertThat(read.getFirst().wallTime()).isCloseTo(System.currentTimeMillis() / 1000.0, org.assertj.core.data.Offset.offset(60.0));
    EventFileReader.Event step150 = read.get(150);
    assertThat(step150.step()).isEqualTo(150);
    assertThat(step150.fileVersion()).isNull();
    assertThat(step150.scalars()).containsExactly(Map.entry("train/loss", (float) (10.0 / 150)),
        Map.entry("train/learning_rate", (float) 1.5e-4), Map.entry("train/grad_norm", 1.5f));
    assertThat(read.get(7).scalars().get("train/grad_norm")).isEqualTo(Float.POSITIVE_INFINITY);
  }

  @Test
  void theReadersCrcIsCrc32cByItsPublishedCheckValues() {
    org.apache.commons.codec.digest.PureJavaCrc32C crc = new org.apache.commons.codec.digest.PureJavaCrc32C();
    crc.update("123456789".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, 9);
    assertThat(crc.getValue()).as("RFC 3720's check value").isEqualTo(0xE3069283L);
    crc.reset();
    crc.update(new byte[32], 0, 32);
    assertThat(crc.getValue()).as("32 zero bytes, RFC 3720 B.4").isEqualTo(0x8A9136AAL);
  }

  @Test
  void theReaderChecksTheCrcsItReads() throws IOException {
    Path file;
    try (TensorBoardEvents events = TensorBoardEvents.create(dir, "rank0")) {
      file = events.file();
      events.scalars(1, Map.of("train/loss", 2.0));
    }
    assertThat(EventFileReader.read(file)).hasSize(2);  // positive control
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length - 6] ^= 1;  // inside the last record's float
    Files.write(file, bytes);
    assertThatThrownBy(() -> EventFileReader.read(file)).hasMessageContaining("CRC mismatch in record 1");
  }
}
