package dev.kiln.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.api.v1alpha1.TrainingQueueSpec;
import dev.kiln.trainer.loop.StepMetrics;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClassBuilder;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kiln's GPU queue through the real operator process, on the local cluster's fake GPU nodes
 * (4 x 8 H100; each trainer here asks for one GPU and trains on the CPU): jobs take turns within
 * a queue's quota; progress reaches status while a stage trains; a higher-priority job preempts a
 * lower one, which resumes at the step it was stopped at.
 */
class QueueTest {

  @RegisterExtension
  final LocalClusterHarness harness = new LocalClusterHarness();

  @TempDir
  Path folder;


  @Test
  void twoJobsTakeTurnsOnAQueueOfOneGpu() throws Exception {
    harness.start(folder, "tiny-data");
    queue("one-gpu", new TrainingQueueSpec(1, null, null, null));
    harness.apply(gpuJob("first", "one-gpu", null, 20));
    harness.apply(gpuJob("second", "one-gpu", null, 20));

    // Data prep is not queued: whichever job's data is ready first takes the GPU, the other waits.
    await().atMost(LocalClusterHarness.WAIT).until(() -> queued("first") || queued("second"));
    MultimodalPretrainJob waiting = queued("first") ? harness.get("first") : harness.get("second");
    assertThat(waiting.getStatus().getQueue().position()).isEqualTo(1);
    assertThat(waiting.getStatus().getQueue().reason()).contains("0 free in queue one-gpu");

    MultimodalPretrainJob first = harness.awaitPhase("first", JobPhase.Succeeded);
    MultimodalPretrainJob second = harness.awaitPhase("second", JobPhase.Succeeded);
    assertThat(first.getStatus().getStages()).allMatch(st -> st.getAttempt() == 1);
    assertThat(second.getStatus().getStages()).allMatch(st -> st.getAttempt() == 1);
    // One GPU in the queue: the four trainer pods ran one after the other, never two at once.
    List<Pod> trainers = harness.client().pods().inNamespace(LocalClusterHarness.NS)
        .withLabel("app.kubernetes.io/component", "trainer").list().getItems().stream()
        .sorted(Comparator.comparing((Pod p) -> Instant.parse(p.getStatus().getStartTime()))).toList();
    assertThat(trainers).hasSize(4);
    for (int i = 1; i < trainers.size(); i++) {
      Instant ended = Instant.parse(trainers.get(i - 1).getStatus().getContainerStatuses().getFirst().getState()
          .getTerminated().getFinishedAt());
      assertThat(Instant.parse(trainers.get(i).getStatus().getStartTime()))
          .as("%s starts after %s ends", trainers.get(i).getMetadata().getName(), trainers.get(i - 1).getMetadata().getName())
          .isAfter(ended);
    }
    assertThat(harness.client().resources(TrainingQueue.class).withName("one-gpu").get().getStatus().getGpusInUse())
        .isZero();
  }

  @Test
  void progressShowsWhileTrainingAndAHigherPriorityJobPreemptsALowerOneWhichResumesAtTheStepItStopped() throws Exception {
    harness.start(folder, "tiny-data");
    queue("one-gpu", new TrainingQueueSpec(1, null, null, TrainingQueueSpec.Preemption.LOWER_PRIORITY));
    harness.apply(gpuJob("low", "one-gpu", null, 150));
    await().atMost(LocalClusterHarness.WAIT).until(() -> {
      var progress = harness.get("low").getStatus().getProgress();
      return progress != null && "pretrain".equals(progress.getStage()) && progress.getStep() != null
          && progress.getStep() > 0;
    });
    var live = harness.get("low").getStatus().getProgress();
    assertThat(live.getDisplay()).as("read from rank 0 while it trains").startsWith("pretrain ").endsWith("/150");
    assertThat(live.getEtaSeconds()).isNotNull();
    harness.awaitStep("low", "pretrain", 20);
    // The administrator's class: the pods are refused without it, and the queue orders by its value.
    harness.client().scheduling().v1().priorityClasses().resource(new PriorityClassBuilder().withNewMetadata()
        .withName("research-high").endMetadata().withValue(10).build()).create();
    harness.apply(gpuJob("high", "one-gpu", "research-high", 30));

    await().atMost(LocalClusterHarness.WAIT).until(() -> harness.stage("low", "pretrain").getDisruptions() == 1);
    harness.awaitPhase("high", JobPhase.Succeeded);
    harness.awaitPhase("low", JobPhase.Succeeded);

    var low = harness.stage("low", "pretrain");
    assertThat(low.getRestarts()).as("a preemption is not a restart").isZero();
    assertThat(low.getLastFailure().getReason()).isEqualTo("Preempted");
    assertThat(low.getAttempt()).isEqualTo(2);
    // Checkpoints every 1000 steps: only the one written on SIGTERM lets attempt 2 start where attempt 1 stopped.
    List<StepMetrics> steps = harness.metricLines("low", "pretrain");
    assertThat(steps).extracting(StepMetrics::step).as("every step trained exactly once")
        .containsExactlyElementsOf(LongStream.rangeClosed(1, 150).boxed().toList());
  }

  private boolean queued(String job) {
    MultimodalPretrainJob current = harness.get(job);
    return current.getStatus() != null && current.getStatus().getPhase() == JobPhase.Queued;
  }

  private void queue(String name, TrainingQueueSpec spec) {
    TrainingQueue queue = new TrainingQueue();
    queue.setMetadata(new ObjectMetaBuilder().withName(name).build());
    queue.setSpec(spec);
    harness.client().resource(queue).create();
  }

  /**
   * The tiny job with both stages on one fake GPU, in {@code queue}, pre-training for {@code steps}
   * and fine-tuning for 10: what is asserted is the turns, not the training.
   */
  private static MultimodalPretrainJob gpuJob(String name, String queue, String priorityClass, int steps) {
    return LocalClusterHarness.job("tiny.yaml", yaml -> yaml
        .replace("name: tiny\n", "name: " + name + "\n")
        .replace("gpusPerNode: 0", "gpusPerNode: 1")
        .replace("steps: 30", "steps: 10")
        .replace("steps: 60", "steps: " + steps)
        .replace("checkpointIntervalSteps: 10", "checkpointIntervalSteps: 1000")
        .replace("  checkpoints:\n", "  scheduling:\n    queue: " + queue
            + (priorityClass == null ? "" : "\n    priorityClassName: " + priorityClass) + "\n  checkpoints:\n"));
  }
}
