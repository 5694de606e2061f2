package dev.kiln.api.data;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** WebDataset shard patterns: {@code ccs/{00000..01302}.tar} expands to 1303 zero-padded paths. */
public final class ShardPattern {

  private static final Pattern RANGE = Pattern.compile("\\{(\\d+)\\.\\.(\\d+)}");

  private ShardPattern() {}

  /** Every path the pattern names, in order. */
  public static List<String> expand(String pattern) {
    List<String> out = new ArrayList<>();
    expandInto(pattern, out);
    return out;
  }

  /** How many paths the pattern names, without listing them. */
  public static long count(String pattern) {
    long n = 1;
    Matcher m = RANGE.matcher(pattern);
    while (m.find()) {
      n *= Long.parseLong(m.group(2)) - Long.parseLong(m.group(1)) + 1;
    }
    return n;
  }

  private static void expandInto(String pattern, List<String> out) {
    Matcher m = RANGE.matcher(pattern);
    if (!m.find()) {
      out.add(pattern);
      return;
    }
    String first = m.group(1);
    long from = Long.parseLong(first);
    long to = Long.parseLong(m.group(2));
    int width = first.length();
    for (long i = from; i <= to; i++) {
      String number = String.format("%0" + width + "d", i);
      expandInto(pattern.substring(0, m.start()) + number + pattern.substring(m.end()), out);
    }
  }
}
