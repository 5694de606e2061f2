package dev.kiln.model;

/**
 * PyTorch's adaptive average pooling of a G x G patch grid to S x S, as a matrix: output cell i
 * averages input rows floor(i*G/S) .. ceil((i+1)*G/S)-1 (27 to 12 gives overlapping 3x3 windows
 * starting at 0, 2, 4, 6, 9, 11, ...); S = G is the identity. A matrix makes the pooling one
 * differentiable matmul over the flattened grid.
 */
public final class AdaptivePooling {

  private AdaptivePooling() {}

  /** Start (inclusive) and end (exclusive) input index of output cell {@code i}. */
  public static int[] window(int i, int input, int output) {
    int start = Math.floorDiv(i * input, output);
    int end = -Math.floorDiv(-(i + 1) * input, output);
    return new int[] {start, end};
  }

  /** (S*S, G*G) row-major weights: pooled = matrix @ grid. */
  public static float[] matrix(int grid, int side) {
    float[] weights = new float[side * side * grid * grid];
    for (int oy = 0; oy < side; oy++) {
      int[] rows = window(oy, grid, side);
      for (int ox = 0; ox < side; ox++) {
        int[] cols = window(ox, grid, side);
        float area = (rows[1] - rows[0]) * (cols[1] - cols[0]);
        int out = oy * side + ox;
        for (int y = rows[0]; y < rows[1]; y++) {
          for (int x = cols[0]; x < cols[1]; x++) {
            weights[out * grid * grid + y * grid + x] = 1f / area;
          }
        }
      }
    }
    return weights;
  }
}
