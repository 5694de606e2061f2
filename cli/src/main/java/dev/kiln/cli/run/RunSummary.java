package dev.kiln.cli.run;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/** What {@code kiln run} writes to {@code summary.json} when a job ends. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RunSummary(String job, String phase, String reason, String message, double seconds, List<Stage> stages,
    Checkpoint promoted, Eval eval, String lossChart) {

  /** One stage: its attempts, the steps it trained, its final loss and how long it ran. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Stage(String name, String phase, Integer attempts, Integer restarts, Integer disruptions, long steps,
      Double loss, Double seconds, Double tokensPerSecond) {}

  /** The checkpoint the job ended with. */
  public record Checkpoint(String stage, Long step, String path, String hostPath) {}

  /**
   * Answer accuracy on the held-out questions, against the same model shown a blank image
   * (what the questions alone give away) and chance; and the accuracy per kind of question.
   */
  public record Eval(double accuracy, Double blind, double chance, int questions, List<Double> byQuestion) {}
}
