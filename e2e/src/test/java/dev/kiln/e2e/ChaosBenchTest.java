package dev.kiln.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.cli.KilnCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/**
 * {@code kiln bench chaos}, as CI affords it: two jobs and their twin through the local cluster
 * while the operator, trainer pods and data pods are killed and the API server fails the
 * operator's requests; every job must end Succeeded with nothing created twice, nothing left
 * behind, no status going backwards, and the same bytes and losses as the twin. The seed is
 * fixed so that a failure can be replayed; {@code -Dkiln.chaos.seed=N} tries another.
 */
class ChaosBenchTest {

  @Test
  void jobsUnderOperatorPodAndApiFaultsEndAsTheirUntouchedTwin() throws Exception {
    String seed = System.getProperty("kiln.chaos.seed", "1");
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    var cli = KilnCommand.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));

    int exit = cli.execute("bench", "chaos", "--seed", seed, "--jobs", "2", "--chaos-seconds", "75");

    assertThat(exit).as(err.toString()).isZero();
    JsonNode result = new ObjectMapper().readTree(out.toString().strip());
    System.out.println(result);
    JsonNode faults = result.get("faults");
    assertThat(faults.get("operator").asLong()).as("operator kills").isPositive();
    assertThat(faults.get("trainer_pod").asLong()).as("trainer pod kills").isPositive();
    assertThat(faults.get("data_pod").asLong()).as("data-prep pod kills").isPositive();
    assertThat(faults.get("server_error").asLong() + faults.get("unavailable").asLong()
        + faults.get("too_many_requests").asLong() + faults.get("slow").asLong()).as("failed requests").isPositive();
    assertThat(faults.get("watch_expired").asLong()).isPositive();
    assertThat(result.get("relists").asLong()).as("the operator listed again after its watches expired").isPositive();
    assertThat(result.get("succeeded").asInt()).as(err.toString()).isEqualTo(2);
    assertThat(result.get("duplicates").asInt()).as(err.toString()).isZero();
    assertThat(result.get("orphans").asInt()).as(err.toString()).isZero();
    assertThat(result.get("backwards").asInt()).as(err.toString()).isZero();
    assertThat(result.get("identical").asInt()).as(err.toString()).isEqualTo(2);
  }
}
