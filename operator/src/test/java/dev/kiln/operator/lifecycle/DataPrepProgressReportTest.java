package dev.kiln.operator.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.v1alpha1.DataPrepProgress;
import dev.kiln.operator.manifests.StageJobManifest;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DataPrepProgressReportTest {

  static final Instant NOW = Instant.parse("2026-12-05T10:00:00Z");

  static Job job(String name, int completions, int succeeded, Instant started) {
    return new JobBuilder().withNewMetadata().withName(name).withCreationTimestamp(started.minusSeconds(30).toString())
        .endMetadata().withNewSpec().withCompletions(completions).endSpec()
        .withNewStatus().withSucceeded(succeeded).withStartTime(started.toString()).endStatus().build();
  }

  static Pod pod(int index, int exitCode, String message) {
    return new PodBuilder().withNewMetadata().withName("p-" + index + "-" + exitCode)
        .withAnnotations(Map.of(StageJobManifest.COMPLETION_INDEX_ANNOTATION, Integer.toString(index))).endMetadata()
        .withNewStatus().addNewContainerStatus().withName("data-jobs").withNewState().withNewTerminated()
        .withExitCode(exitCode).withMessage(message).endTerminated().endState().endContainerStatus().endStatus().build();
  }

  static String summary(long read, long kept, long bad) {
    return "{\"samplesRead\":" + read + ",\"samplesKept\":" + kept + ",\"samplesBad\":" + bad + "}";
  }

  @Test
  void sumsTheFinishedTasksOncePerIndexAndEstimatesTheRestFromTheirPace() {
    Job filter = job("j-filter-a", 4, 2, NOW.minusSeconds(100));
    List<Pod> pods = List.of(pod(0, 0, summary(1000, 600, 10)), pod(1, 1, "filter: disk full"),
        pod(1, 0, summary(1000, 500, 0)), pod(2, 0, summary(999, 1, 1)).toBuilder().editStatus()
            .editFirstContainerStatus().editState().editTerminated().withExitCode(137).endTerminated().endState()
            .endContainerStatus().endStatus().build());

    DataPrepProgress progress = DataPrepProgressReport.of("filter", List.of(filter), j -> pods, NOW);

    assertThat(progress.getTasksDone()).isEqualTo(2);
    assertThat(progress.getTasks()).isEqualTo(4);
    assertThat(progress.getSamplesRead()).as("the failed tries not counted").isEqualTo(2000);
    assertThat(progress.getSamplesKept()).isEqualTo(1100);
    assertThat(progress.getSamplesBad()).isEqualTo(10);
    assertThat(progress.getSamplesPerSecond()).isEqualTo(20.0);
    assertThat(progress.getEtaSeconds()).isEqualTo(100);
    assertThat(DataPrepProgressReport.display(progress)).isEqualTo("filter 2/4 tasks, 20.0 samples/s, ETA 1m40s");
  }

  @Test
  void jobsTogetherFromTheEarliestStartAndNoEstimateBeforeATaskFinishes() {
    Job first = job("a", 3, 0, NOW.minusSeconds(7200));
    Job second = job("b", 1, 0, NOW.minusSeconds(60));

    DataPrepProgress none = DataPrepProgressReport.of("pack prepare", List.of(first, second), j -> List.of(), NOW);
    assertThat(none.getEtaSeconds()).isNull();
    assertThat(none.getSamplesRead()).isNull();
    assertThat(DataPrepProgressReport.display(none)).isEqualTo("pack prepare 0/4 tasks");

    Job firstDone = job("a", 3, 1, NOW.minusSeconds(7200));
    DataPrepProgress one = DataPrepProgressReport.of("pack prepare", List.of(firstDone, second), j -> List.of(), NOW);
    assertThat(one.getEtaSeconds()).isEqualTo(3 * 7200);
    assertThat(DataPrepProgressReport.display(one)).isEqualTo("pack prepare 1/4 tasks, ETA 6h00m");
    assertThat(DataPrepProgressReport.advanced(none, one)).isTrue();
    assertThat(DataPrepProgressReport.advanced(one, DataPrepProgressReport.of("pack prepare", List.of(firstDone, second),
        j -> List.of(), NOW.plusSeconds(30)))).as("only time passed: nothing to write").isFalse();
  }
}
