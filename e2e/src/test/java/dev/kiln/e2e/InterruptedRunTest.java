package dev.kiln.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.cli.run.StageMetrics;
import dev.kiln.trainer.loop.StepMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kiln run} as a process, stopped the way a closed terminal or {@code kill} stops it
 * (SIGTERM): nothing it started keeps running, the trainer checkpoints the step it was on, a
 * second run of the same work dir is refused while the first holds it, and {@code --resume}
 * continues at the next step.
 */
class InterruptedRunTest {

  static final Path HOME = Path.of(System.getProperty("kiln.home"));
  static final Duration WAIT = Duration.ofMinutes(3);

  @TempDir
  Path workdir;

  final List<Process> started = new ArrayList<>();

  @AfterEach
  void stopEverything() {
    for (Process process : started) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
    }
  }

  Process kiln(Path log, String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-Dkiln.home=" + HOME,
        "-jar", HOME.resolve("cli/target/kiln-cli.jar").toString()));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    started.add(process);
    return process;
  }

  List<Long> pretrainSteps() {
    Path metrics = workdir.resolve("cluster/volumes/default/quickstart-work/metrics/pretrain/metrics.jsonl");
    return Files.exists(metrics) ? StageMetrics.lines(metrics).stream().map(StepMetrics::step).toList() : List.of();
  }

  @Test
  void sigtermStopsEveryProcessAfterACheckpointAndResumeContinuesAtTheNextStep() throws Exception {
    String quickstart = HOME.resolve("examples/quickstart.yaml").toString();
    Process first = kiln(workdir.resolveSibling(workdir.getFileName() + "-first.log"), "run", quickstart,
        "--workdir", workdir.toString());
    await().atMost(WAIT).until(() -> pretrainSteps().size() >= 20 || !first.isAlive());
    assertThat(first.isAlive()).as("kiln run still running").isTrue();

    Path secondLog = workdir.resolveSibling(workdir.getFileName() + "-second.log");
    Process second = kiln(secondLog, "run", quickstart, "--workdir", workdir.toString());
    assertThat(second.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(second.exitValue()).isEqualTo(1);
    assertThat(Files.readString(secondLog)).contains(workdir + " is in use by another kiln run (pid " + first.pid() + ")");

    List<ProcessHandle> tree = first.descendants().toList();
    assertThat(tree).as("the operator and the trainer pod's process").hasSizeGreaterThanOrEqualTo(2);
    first.destroy();  // SIGTERM
    assertThat(first.waitFor(90, TimeUnit.SECONDS)).as("kiln run exits").isTrue();
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(tree.stream().filter(ProcessHandle::isAlive).map(p -> p.pid() + " " + p.info().commandLine()
            .orElse("")).toList()).as("processes kiln run started, still alive").isEmpty());
    List<Long> before = pretrainSteps();
    long stoppedAt = before.getLast();

    Process resumed = kiln(workdir.resolveSibling(workdir.getFileName() + "-resumed.log"), "run", quickstart,
        "--workdir", workdir.toString(), "--resume");
    await().atMost(WAIT).until(() -> pretrainSteps().size() >= before.size() + 5 || !resumed.isAlive());
    resumed.destroy();
    assertThat(resumed.waitFor(90, TimeUnit.SECONDS)).isTrue();

    assertThat(pretrainSteps()).as("steps 1.. with none lost or repeated: the stopped step was checkpointed")
        .startsWith(LongStream.rangeClosed(1, stoppedAt + 5).boxed().toArray(Long[]::new));
  }
}
