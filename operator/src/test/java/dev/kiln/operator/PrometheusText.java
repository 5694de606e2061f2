package dev.kiln.operator;

import java.util.LinkedHashMap;
import java.util.Map;

/** Reads Prometheus' text exposition format into {@code name{labels} -> value}, labels as exposed. */
final class PrometheusText {

  private PrometheusText() {}

  static Map<String, Double> parse(String text) {
    Map<String, Double> samples = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int space = line.lastIndexOf(' ');
      samples.put(line.substring(0, space).trim(), Double.parseDouble(line.substring(space + 1)));
    }
    return samples;
  }
}
