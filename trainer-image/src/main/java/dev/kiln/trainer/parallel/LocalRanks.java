package dev.kiln.trainer.parallel;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One process per GPU of a pod, as torchrun starts them: the pod's process starts
 * {@code gpusPerNode} copies of itself with {@value #ENV} set (same JVM flags, class path and
 * arguments), waits, and as soon as one fails stops the others and exits with its code.
 */
public final class LocalRanks {

  public static final String ENV = "KILN_LOCAL_RANK";
  static final long POLL_MILLIS = 200;

  private LocalRanks() {}

  /** The local rank of this process, or -1 when it is the pod's launcher. */
  public static int current() {
    String value = System.getenv(ENV);
    return value == null || value.isBlank() ? -1 : Integer.parseInt(value.strip());
  }

  public static int launch(int count, String mainClass, List<String> args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
    command.addAll(args);
    List<Process> ranks = new ArrayList<>();
    // SIGTERM to the pod reaches this process only: pass it on, and wait for every rank's checkpoint.
    StopRequest stop = StopRequest.onSigterm(() -> ranks.forEach(Process::destroy));
    try {
      for (int local = 0; local < count; local++) {
        ProcessBuilder builder = new ProcessBuilder(command).inheritIO();
        builder.environment().put(ENV, Integer.toString(local));
        ranks.add(builder.start());
      }
      while (true) {
        boolean running = false;
        for (int local = 0; local < count; local++) {
          Process rank = ranks.get(local);
          if (rank.isAlive()) {
            running = true;
          } else if (rank.exitValue() != 0 && !stop.requested()) {
            System.err.println("local rank " + local + " exited with " + rank.exitValue() + "; stopping the others");
            return rank.exitValue();
          }
        }
        if (!running) {
          return ranks.stream().mapToInt(Process::exitValue).max().orElse(0);
        }
        Thread.sleep(POLL_MILLIS);
      }
    } finally {
      ranks.forEach(Process::destroy);
    }
  }
}
