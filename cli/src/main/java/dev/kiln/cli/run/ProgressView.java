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
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.function.ToLongFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What {@code kiln run} shows while a job runs: each phase change, a progress bar for the running
 * stage (step, loss, tokens/s, ETA; redrawn in place on a terminal, a line every
 * {@value #LINE_EVERY_SECONDS} s otherwise), and every failure with the end of the pod's log.
 */
public final class ProgressView {

  static final int LINE_EVERY_SECONDS = 10;
  static final int BAR = 24;
  static final int LOG_LINES = 12;
  private static final Pattern FAILED_POD = Pattern.compile("pod (\\S+) exited with code");

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
  private final Rate rate = new Rate();

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
          showLog(pods, failure.getPod());
        }
      }
    }
    if (status.getPhase() == JobPhase.Failed && status.getMessage() != null && failuresShown.add("job")) {
      // A failure outside the stages (data preparation): the operator's message names the pod.
      Matcher pod = FAILED_POD.matcher(status.getMessage());
      if (pod.find() && status.getStages().stream().noneMatch(s -> pod.group(1).equals(
          s.getLastFailure() == null ? null : s.getLastFailure().getPod()))) {
        showLog(pods, pod.group(1));
      }
    }
    if (status.getStage() != null && status.getPhase() == JobPhase.Training) {
      StageMetrics.latest(workspace, status.getStage()).ifPresent(m -> bar(status.getStage(), m));
    }
    out.flush();
  }

  /** Where the pod's log is, and its last lines. */
  private void showLog(Path pods, String pod) {
    Path log = pods.resolve(pod).resolve("log");
    out.println("  log of pod " + pod + ": " + log);
    logTail(log).forEach(line -> out.println("    | " + line));
  }

  private void bar(String stage, StepMetrics m) {
    long now = System.nanoTime();
    rate.observe(stage, now, m);
    if (!terminal && now - lastLine < LINE_EVERY_SECONDS * 1_000_000_000L) {
      return;
    }
    lastLine = now;
    int filled = (int) (BAR * m.step() / Math.max(1, m.totalSteps()));
    // Until the window spans a few seconds the first, slow steps would make the ETA up: none is shown.
    double stepsPerSecond = rate.stepsPerSecond().orElse(0);
    double tokensPerSecond = rate.tokensPerSecond().orElse(m.tokensPerSecond());
    String eta = stepsPerSecond > 0 ? duration(Math.round((m.totalSteps() - m.step()) / stepsPerSecond)) : "-";
    String line = String.format("  %s[%s%s] step %d/%d  loss %.4f  %.0f tok/s  ETA %s", prefix, "#".repeat(filled),
        ".".repeat(BAR - filled), m.step(), m.totalSteps(), m.loss(), tokensPerSecond, eta);
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

  /**
   * Steps and tokens per second over the last {@value #WINDOW_SECONDS} s of wall clock, not the
   * last step's: single steps vary with the data, a checkpoint or a collection, and an ETA from one
   * of them swings from refresh to refresh.
   */
  static final class Rate {

    static final long WINDOW_SECONDS = 30;
    /** A rate needs at least this much time between the samples it compares. */
    static final long MIN_SPAN_SECONDS = 2;

    private record Sample(long nanos, long step, long tokens) {}

    private final List<Sample> samples = new ArrayList<>();
    private String stage;

    void observe(String stageName, long nanos, StepMetrics m) {
      // A new stage, or an attempt resumed at an earlier step, starts a new window.
      if (!stageName.equals(stage) || (!samples.isEmpty() && m.step() < samples.getLast().step())) {
        samples.clear();
        stage = stageName;
      }
      if (samples.isEmpty() || samples.getLast().step() != m.step()) {
        samples.addLast(new Sample(nanos, m.step(), m.tokens()));
      }
      while (samples.size() > 2 && nanos - samples.get(1).nanos() > WINDOW_SECONDS * 1_000_000_000L) {
        samples.removeFirst();  // keeps the newest sample older than the window: the window spans it all
      }
    }

    OptionalDouble stepsPerSecond() {
      return per(Sample::step);
    }

    OptionalDouble tokensPerSecond() {
      return per(Sample::tokens);
    }

    private OptionalDouble per(ToLongFunction<Sample> counter) {
      if (samples.size() < 2) {
        return OptionalDouble.empty();
      }
      double seconds = (samples.getLast().nanos() - samples.getFirst().nanos()) / 1e9;
      if (seconds < MIN_SPAN_SECONDS) {
        return OptionalDouble.empty();
      }
      return OptionalDouble.of((counter.applyAsLong(samples.getLast()) - counter.applyAsLong(samples.getFirst()))
          / seconds);
    }
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
