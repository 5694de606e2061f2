package dev.kiln.datajobs.filter;

import java.util.List;

/** Equal-width histogram of scores, for the filter report: where the threshold cuts the distribution. */
public record Histogram(double min, double max, long[] counts) {

  public static Histogram of(List<Double> values, int bins) {
    if (values.isEmpty()) {
      return new Histogram(0, 0, new long[0]);
    }
    double min = values.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
    double max = values.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
    long[] counts = new long[bins];
    double width = (max - min) / bins;
    for (double v : values) {
      int bin = width == 0 ? 0 : (int) Math.min(bins - 1, Math.floor((v - min) / width));
      counts[bin]++;
    }
    return new Histogram(min, max, counts);
  }
}
