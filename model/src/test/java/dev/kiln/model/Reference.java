package dev.kiln.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;

/** The values PyTorch computed (reference/make_reference.py), and float comparisons against them. */
public final class Reference {

  private Reference() {}

  public static JsonNode load() throws IOException {
    try (InputStream in = Reference.class.getResourceAsStream("/reference/reference.json")) {
      return new ObjectMapper().readTree(in);
    }
  }

  public static NDArray array(NDManager manager, JsonNode values, long... shape) {
    return manager.create(floats(values), new Shape(shape));
  }

  public static float[] floats(JsonNode values) {
    float[] out = new float[values.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) values.get(i).asDouble();
    }
    return out;
  }

  /** Element-wise within {@code tolerance} plus 1e-5 relative. */
  public static void assertClose(NDArray actual, JsonNode expected, float tolerance) {
    float[] a = actual.toFloatArray();
    float[] e = floats(expected);
    assertThat(a).hasSameSizeAs(e);
    for (int i = 0; i < a.length; i++) {
      assertThat(a[i]).as("element %d", i).isCloseTo(e[i], within(tolerance + Math.abs(e[i]) * 1e-5f));
    }
  }
}
