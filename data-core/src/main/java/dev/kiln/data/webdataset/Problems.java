package dev.kiln.data.webdataset;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Counts what was skipped and why, with the first few examples of each reason: bad input is
 * never fatal and never dropped silently. The job decides whether the error rate is acceptable.
 */
public final class Problems {

  static final int EXAMPLES_PER_REASON = 5;

  private final Map<String, Long> counts = new TreeMap<>();
  private final Map<String, List<String>> examples = new TreeMap<>();

  /** Problems as {@link #counts()} and {@link #examples()} gave them, read back. */
  public static Problems of(Map<String, Long> counts, Map<String, List<String>> examples) {
    Problems problems = new Problems();
    problems.counts.putAll(counts);
    examples.forEach((reason, list) -> problems.examples.put(reason, new ArrayList<>(list)));
    return problems;
  }

  /** Records one problem: {@code where} names the shard and sample. */
  public synchronized void add(String reason, String where) {
    counts.merge(reason, 1L, Long::sum);
    List<String> list = examples.computeIfAbsent(reason, r -> new ArrayList<>());
    if (list.size() < EXAMPLES_PER_REASON) {
      list.add(where);
    }
  }

  public synchronized void addAll(Problems other) {
    other.counts.forEach((reason, n) -> counts.merge(reason, n, Long::sum));
    other.examples.forEach((reason, list) -> {
      List<String> mine = examples.computeIfAbsent(reason, r -> new ArrayList<>());
      for (String example : list) {
        if (mine.size() < EXAMPLES_PER_REASON) {
          mine.add(example);
        }
      }
    });
  }

  public synchronized long count(String reason) {
    return counts.getOrDefault(reason, 0L);
  }

  public synchronized long total() {
    return counts.values().stream().mapToLong(Long::longValue).sum();
  }

  /** Counts by reason, sorted. */
  public synchronized Map<String, Long> counts() {
    return new TreeMap<>(counts);
  }

  public synchronized Map<String, List<String>> examples() {
    Map<String, List<String>> copy = new TreeMap<>();
    examples.forEach((k, v) -> copy.put(k, List.copyOf(v)));
    return copy;
  }

  /** Reasons the reader itself reports. */
  public static final String UNREADABLE_SHARD = "unreadable_shard";
  public static final String TRUNCATED_SHARD = "truncated_shard";
  public static final String OVERSIZE_MEMBER = "oversize_member";
  public static final String MEMBER_WITHOUT_KEY = "member_without_key";
  public static final String SPLIT_SAMPLE = "split_sample";
}
