package dev.kiln.cli.run;

import dev.kiln.api.v1alpha1.FailureStatus;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.v1alpha1.StageStatus;
import dev.kiln.trainer.loop.StepMetrics;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What {@code kiln run} shows while a job runs: each phase change, a progress bar for the running
 * stage (step, loss, tokens/s, ETA; redrawn in place on a terminal, a line every
 * {@value #LINE_EVERY_SECONDS} s otherwise), and every failure with the end of the pod's log.
 */
public final class ProgressView {

  static final int LINE_EVERY_SECONDS = 10;
  static final int BAR = 24;
  static final int LOG_LINES = 12;

  private final PrintWriter out;
  private final MultimodalPretrainJob job;
  /** Before each line, when several jobs share the output; their bars are then printed as lines. */
  private final String prefix;
  private final boolean terminal;
  private final Set<String> failuresShown = new HashSet<>();
  private String lastHeadline;
  private long lastLine;
  private boolean barShown;
  private final long started = System.nanoTime();

  ProgressView(PrintWriter out, MultimodalPretrainJob job, boolean oneOfSeveral) {
    this.out = out;
    this.job = job;
    this.prefix = oneOfSeveral ? job.getMetadata().getName() + " " : "";
    this.terminal = System.console() != null && !oneOfSeveral;
  }

  void show(MultimodalPretrainJobStatus status, Path workspace, Path pods) {
    if (status.getPhase() == null) {
      return;  // the operator has not seen the job yet
    }
    String headline = status.getPhase() + (status.getStage() != null ? " " + status.getStage() : "")
        + (status.getMessage() != null ? ": " + status.getMessage() : "");
    if (!Objects.equals(headline, lastHeadline)) {
      endBar();
      out.println("[" + elapsed() + "] " + prefix + headline);
      lastHeadline = headline;
    }
    for (StageStatus stage : status.getStages()) {
      FailureStatus failure = stage.getLastFailure();
      if (failure != null && failuresShown.add(stage.getName() + "/" + failure.getAttempt() + "/" + failure.getTime())) {
        endBar();
        out.println("[" + elapsed() + "] " + prefix + stage.getName() + " attempt " + failure.getAttempt() + " failed: "
            + failure.getReason() + ": " + failure.getMessage());
        if (failure.getPod() != null) {
          logTail(pods.resolve(failure.getPod()).resolve("log")).forEach(line -> out.println("    | " + line));
        }
      }
    }
    if (status.getStage() != null && status.getPhase() == JobPhase.Training) {
      StageMetrics.latest(workspace, status.getStage()).ifPresent(this::bar);
    }
    out.flush();
  }

  private void bar(StepMetrics m) {
    long now = System.nanoTime();
    if (!terminal && now - lastLine < LINE_EVERY_SECONDS * 1_000_000_000L) {
      return;
    }
    lastLine = now;
    int filled = (int) (BAR * m.step() / Math.max(1, m.totalSteps()));
    double secondsPerStep = m.seconds();
    long eta = Math.round(secondsPerStep * (m.totalSteps() - m.step()));
    String line = String.format("  %s[%s%s] step %d/%d  loss %.4f  %.0f tok/s  ETA %s", prefix, "#".repeat(filled),
        ".".repeat(BAR - filled), m.step(), m.totalSteps(), m.loss(), m.tokensPerSecond(), duration(eta));
    if (terminal) {
      out.print("\r" + line);
      barShown = true;
    } else {
      out.println(line);
    }
  }

  private void endBar() {
    if (barShown) {
      out.println();
      barShown = false;
    }
  }

  void finish() {
    endBar();
    out.flush();
  }

  private String elapsed() {
    return duration((System.nanoTime() - started) / 1_000_000_000L);
  }

  public static String duration(long seconds) {
    return seconds >= 3600 ? String.format("%dh%02dm", seconds / 3600, seconds % 3600 / 60)
        : String.format("%dm%02ds", seconds / 60, seconds % 60);
  }

  static List<String> logTail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return lines.subList(Math.max(0, lines.size() - LOG_LINES), lines.size());
    } catch (IOException e) {
      return List.of("(no log at " + log + ")");
    }
  }
}
