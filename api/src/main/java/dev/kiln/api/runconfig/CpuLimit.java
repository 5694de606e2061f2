package dev.kiln.api.runconfig;

import java.util.Map;
import java.util.OptionalInt;

/**
 * The container's CPU limit as its pod tells it (the downward API's {@code limits.cpu}, whole cores
 * rounded up; the node's allocatable CPUs when the container has no limit), from which a program
 * sizes its compute threads: a process that starts one thread per core of the host is throttled
 * by a smaller limit.
 */
public final class CpuLimit {

  public static final String ENV = "KILN_CPU_LIMIT";

  private CpuLimit() {}

  /** Cores for each of {@code processes} sharing the limit (at least 1), or empty when the limit is not given. */
  public static OptionalInt perProcess(Map<String, String> env, int processes) {
    String value = env.get(ENV);
    if (value == null || value.isBlank()) {
      return OptionalInt.empty();
    }
    try {
      int cores = Integer.parseInt(value.strip());
      return cores > 0 ? OptionalInt.of(Math.max(1, cores / Math.max(1, processes))) : OptionalInt.empty();
    } catch (NumberFormatException e) {
      return OptionalInt.empty();
    }
  }
}
