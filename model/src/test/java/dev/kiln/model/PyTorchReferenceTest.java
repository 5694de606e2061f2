package dev.kiln.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.training.GradientCollector;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The building blocks against PyTorch (values from src/test/resources/reference/make_reference.py,
 * run with PyTorch 1.13), to float32 tolerance.
 */
class PyTorchReferenceTest {

  static JsonNode reference;
  NDManager manager;

  @BeforeAll
  static void load() throws IOException {
    reference = Reference.load();
  }

  @BeforeEach
  void open() {
    manager = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    manager.close();
  }

  @Test
  void adaptivePoolingMatchesPyTorchIncludingOverlappingWindows() {
    assertThat(AdaptivePooling.window(0, 27, 12)).containsExactly(0, 3);
    assertThat(AdaptivePooling.window(1, 27, 12)).containsExactly(2, 5);
    assertThat(AdaptivePooling.window(4, 27, 12)).containsExactly(9, 12);
    assertThat(AdaptivePooling.window(11, 27, 12)).containsExactly(24, 27);
    for (int[] gs : new int[][] {{27, 12}, {8, 4}}) {
      int grid = gs[0];
      int side = gs[1];
      JsonNode ref = reference.get("pool_" + grid + "_" + side);
      NDArray x = array(ref.get("input"), 3, grid * grid);                         // (C, G*G)
      NDArray pool = manager.create(AdaptivePooling.matrix(grid, side), new Shape((long) side * side, (long) grid * grid));
      NDArray y = Ops.linear(x, pool, null);                                        // (C, S*S)
      assertClose(y, ref.get("output"), 1e-5f);
    }
  }

  @Test
  void rmsNormLayerNormAndGeluMatch() {
    JsonNode r = reference.get("rmsnorm");
    assertClose(Ops.rmsNorm(array(r.get("x"), 2, 5, 8), array(r.get("w"), 8), 1e-6), r.get("y"), 1e-5f);
    JsonNode l = reference.get("layernorm");
    assertClose(Ops.layerNorm(array(l.get("x"), 3, 6), array(l.get("w"), 6), array(l.get("b"), 6), 1e-6), l.get("y"), 1e-5f);
    JsonNode g = reference.get("gelu");
    assertClose(Ops.geluTanh(array(g.get("x"), 3, 6)), g.get("tanh"), 1e-6f);
    assertClose(Ops.gelu(array(g.get("x"), 3, 6)), g.get("exact"), 1e-6f);
  }

  @Test
  void rotaryEmbeddingMatchesWithPositionsRestartingPerSample() {
    JsonNode r = reference.get("rope");
    int[] positions = new int[6];
    for (int i = 0; i < 6; i++) {
      positions[i] = r.get("positions").get(i).asInt();
    }
    PackedBatch batch = new PackedBatch(1, 6, 0, new int[6], new int[6], new float[0], 0, 0, new int[6], positions,
        new int[0], new int[0]);
    NDArray[] rotary = batch.rotary(manager, 8, r.get("theta").asDouble());
    assertClose(Ops.rope(array(r.get("q"), 1, 2, 6, 8), rotary[0], rotary[1]), r.get("y"), 1e-5f);
  }

  @Test
  void groupedQueryAttentionWithTheBlockDiagonalMaskMatches() {
    JsonNode r = reference.get("attention");
    int[] segment = new int[6];
    for (int i = 0; i < 6; i++) {
      segment[i] = r.get("segment").get(i).asInt();
    }
    PackedBatch batch = new PackedBatch(1, 6, 0, new int[6], new int[6], new float[0], 0, 0, segment, new int[6],
        new int[0], new int[0]);
    NDArray y = Ops.attention(array(r.get("q"), 1, 4, 6, 4), array(r.get("k"), 1, 2, 6, 4), array(r.get("v"), 1, 2, 6, 4),
        batch.mask(manager));
    assertClose(y, r.get("y"), 1e-5f);
  }

  private NDArray array(JsonNode values, long... shape) {
    return Reference.array(manager, values, shape);
  }

  private static void assertClose(NDArray actual, JsonNode expected, float tolerance) {
    Reference.assertClose(actual, expected, tolerance);
  }
}
