package dev.kiln.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.cli.KilnCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/**
 * {@code kiln bench operator} at a size CI can afford: it runs end to end and its numbers are
 * sane (2 jobs, one GPU node). How they grow with the number of jobs is measured by hand, never asserted here.
 */
class OperatorBenchTest {

  @Test
  void measuresIdleLoadMemoryAndAdmissionsOfTheOperatorProcess() throws Exception {
    StringWriter out = new StringWriter();
    var cli = KilnCommand.commandLine();
    cli.setOut(new PrintWriter(out, true));

    int exit = cli.execute("bench", "operator", "--jobs", "2", "--idle-seconds", "2", "--releases", "1");

    assertThat(exit).as(out.toString()).isZero();
    JsonNode result = new ObjectMapper().readTree(out.toString().strip());
    assertThat(result.get("bench").asText()).isEqualTo("operator");
    assertThat(result.get("jobs").asInt()).isEqualTo(2);
    assertThat(result.get("gpu_nodes").asInt()).isEqualTo(1);
    assertThat(result.get("idle_requests_per_job_per_min").asDouble()).isNotNegative();
    assertThat(result.get("rss_mb").asLong()).isPositive();
    assertThat(result.get("admissions").asInt()).as("the queued job admitted when the running one went").isEqualTo(1);
    assertThat(result.get("admission_p99_ms").asLong()).isGreaterThanOrEqualTo(result.get("admission_p50_ms").asLong())
        .isNotNegative();
  }

  @Test
  void withCohortsEveryJobRunsToTheEndAndNoGangIsLeftPartlyPending() throws Exception {
    StringWriter out = new StringWriter();
    var cli = KilnCommand.commandLine();
    cli.setOut(new PrintWriter(out, true));

    int exit = cli.execute("bench", "operator", "--cohorts", "--jobs", "20", "--train-seconds", "3", "--settle-minutes", "8");

    assertThat(exit).as(out.toString()).isZero();
    JsonNode result = new ObjectMapper().readTree(out.toString().strip());
    assertThat(result.get("bench").asText()).isEqualTo("operator-cohorts");
    assertThat(result.get("succeeded").asInt()).isEqualTo(20);
    assertThat(result.get("failed").asInt()).isZero();
    assertThat(result.get("gangs_partly_pending").asInt()).isZero();
    assertThat(result.get("gangs").asInt()).as("every job's gang at least once").isGreaterThanOrEqualTo(20);
    // The slowest admissions, named for a closer look: as many as were timed, at most five.
    assertThat(result.get("admission_slowest")).hasSize(Math.min(5, result.get("admissions").asInt()))
        .allSatisfy(a -> assertThat(a.asText())
            .matches("co-\\d{5} \\d+ ms at \\d+ s after (a GPU release|its victims' release|its data)"));
    assertThat(result.get("admissions_preemptors").asInt() + result.get("admissions_others").asInt())
        .as("every timed admission is of one kind or the other").isEqualTo(result.get("admissions").asInt());
    double shares = 0;
    for (JsonNode share : result.get("gpu_share_by_queue")) {
      shares += share.asDouble();
    }
    assertThat(shares).isCloseTo(1.0, org.assertj.core.data.Offset.offset(0.01));
  }
}
