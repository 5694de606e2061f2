package dev.kiln.model.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.model.VisionLanguageModel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {

  @TempDir
  Path dir;

  @Test
  void float32RoundTripIsExactAndTheHeaderIsPadded() throws IOException {
    Path file = dir.resolve("a.safetensors");
    SafeTensors.write(file, Map.of("b", new SafeTensors.Tensor(new long[] {2, 3}, new float[] {1, -2, 3.5f, 1e-8f, 0, 7}),
        "a", new SafeTensors.Tensor(new long[] {1}, new float[] {Float.MAX_VALUE})), Map.of("format", "pt"));

    Map<String, SafeTensors.Tensor> read = SafeTensors.read(file);

    assertThat(read.keySet()).containsExactly("a", "b");
    assertThat(read.get("b").shape()).containsExactly(2, 3);
    assertThat(read.get("b").data()).containsExactly(1, -2, 3.5f, 1e-8f, 0, 7);
    long header = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertThat(header % 8).isZero();
  }

  @Test
  void eachHandsOverTheTensorsOneAtATimeAsReadWouldHaveThem() throws IOException {
    Path file = dir.resolve("m.safetensors");
    Map<String, SafeTensors.Tensor> written = new java.util.LinkedHashMap<>();
    written.put("embed", new SafeTensors.Tensor(new long[] {4, 2}, new float[] {1, 2, 3, 4, 5, 6, 7, 8}));
    written.put("norm", new SafeTensors.Tensor(new long[] {2}, new float[] {0.5f, -0.5f}));
    SafeTensors.write(file, written, Map.of());

    java.util.List<String> seen = new java.util.ArrayList<>();
    SafeTensors.each(file, (name, tensor) -> {
      seen.add(name);
      assertThat(tensor.data()).containsExactly(written.get(name).data());
      assertThat(tensor.shape()).containsExactly(written.get(name).shape());
    });

    assertThat(seen).containsExactlyInAnyOrderElementsOf(written.keySet());
    assertThat(seen).containsExactlyElementsOf(SafeTensors.read(file).keySet());
    assertThatThrownBy(() -> SafeTensors.each(file, (name, tensor) -> {
      throw new IOException("stop at " + name);
    })).isInstanceOf(IOException.class).hasMessageStartingWith("stop at ");
  }

  @Test
  void bf16AndF16AreConvertedInJava() throws IOException {
    float[] values = {1.0f, -0.5f, 3.140625f, 65504f};
    short[] bf16 = new short[values.length];
    short[] f16 = new short[values.length];
    for (int i = 0; i < values.length; i++) {
      bf16[i] = SafeTensors.floatToBf16(values[i]);
      f16[i] = Float.floatToFloat16(values[i]);
    }
    Path file = dir.resolve("half.safetensors");
    writeHalf(file, bf16, f16);

    Map<String, SafeTensors.Tensor> read = SafeTensors.read(file);

    assertThat(read.get("model.norm.weight").data()).containsExactly(1.0f, -0.5f, 3.140625f, 65536f);
    assertThat(read.get("half").data()).containsExactly(values);
    assertThat(SafeTensors.bf16ToFloat(SafeTensors.floatToBf16(1.00390625f))).isEqualTo(1.0f);  // ties to even
  }

  @Test
  void hfNamedWeightsLoadIntoTheModelIncludingAConvKernelAndBf16() throws IOException {
    try (NDManager manager = NDManager.newBaseManager();
        VisionLanguageModel model = new VisionLanguageModel(ModelPreset.TINY.dimensions(), manager, 1)) {
      float[] kernel = new float[32 * 3 * 4 * 4];
      for (int i = 0; i < kernel.length; i++) {
        kernel[i] = i * 1e-3f;
      }
      Path lm = Files.createDirectories(dir.resolve("lm"));
      Path vision = Files.createDirectories(dir.resolve("vision"));
      short[] ones = new short[64];
      java.util.Arrays.fill(ones, SafeTensors.floatToBf16(2.0f));
      writeHalf(lm.resolve("model.safetensors"), ones, new short[0]);
      SafeTensors.write(vision.resolve("model.safetensors"), Map.of(
          "vision_model.embeddings.patch_embedding.weight", new SafeTensors.Tensor(new long[] {32, 3, 4, 4}, kernel),
          "vision_model.post_layernorm.weight", new SafeTensors.Tensor(new long[] {32}, new float[32])), Map.of());

      List<String> missing = InitialWeights.load(model.parameters(), lm, vision);

      assertThat(model.parameters().get("model.norm.weight").toFloatArray()).containsOnly(2.0f);
      assertThat(model.parameters().get("vision_model.embeddings.patch_embedding.weight").toFloatArray()).containsExactly(kernel);
      assertThat(missing).contains("model.embed_tokens.weight").doesNotContain("model.norm.weight");
    }
  }

  /** A spec-style file: BF16 "model.norm.weight" (64) and F16 "half", written by hand. */
  private static void writeHalf(Path file, short[] bf16, short[] f16) throws IOException {
    String header = "{\"model.norm.weight\":{\"dtype\":\"BF16\",\"shape\":[" + bf16.length + "],\"data_offsets\":[0,"
        + 2 * bf16.length + "]}" + (f16.length > 0 ? ",\"half\":{\"dtype\":\"F16\",\"shape\":[" + f16.length
        + "],\"data_offsets\":[" + 2 * bf16.length + "," + 2 * (bf16.length + f16.length) + "]}" : "") + "}";
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer out = ByteBuffer.allocate(8 + json.length + 2 * (bf16.length + f16.length)).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(json.length).put(json);
    for (short s : bf16) {
      out.putShort(s);
    }
    for (short s : f16) {
      out.putShort(s);
    }
    Files.write(file, out.array());
  }
}
