package dev.kiln.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.cli.KilnCommand;
import dev.kiln.trainer.synthetic.ShapesData;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kiln run queue.yaml a.yaml b.yaml}, as a user sharing the local cluster's fake GPUs
 * between two jobs would type it: the queue is applied first, both jobs run through it one after
 * the other, and each gets its own summary.
 */
class RunSeveralJobsTest {

  @TempDir
  Path folder;

  @Test
  void twoJobsFileByFileShareAQueueOfOneGpuAndEachGetsItsSummary() throws Exception {
    Path data = folder.resolve("data");
    ShapesData.generate(data, 200, 200, 10, 3);
    Path queue = Files.writeString(folder.resolve("queue.yaml"), """
        apiVersion: kiln.dev/v1alpha1
        kind: TrainingQueue
        metadata:
          name: one-gpu
        spec:
          gpuQuota: 1
        """);
    Path a = writeJob("a");
    Path b = writeJob("b");
    Path workdir = folder.resolve("run");
    StringWriter out = new StringWriter();
    var cli = KilnCommand.commandLine();
    cli.setOut(new PrintWriter(out, true));

    int exit = cli.execute("run", queue.toString(), a.toString(), b.toString(), "--claim", "tiny-data=" + data,
        "--workdir", workdir.toString(), "--timeout", "10");

    System.out.println(out);
    assertThat(exit).as("kiln run exit code").isZero();
    assertThat(out.toString()).contains("applied TrainingQueue one-gpu", "applied MultimodalPretrainJob a",
        "applied MultimodalPretrainJob b", "a Succeeded in", "b Succeeded in");
    assertThat(out.toString()).as("one job waited for the other's GPU").containsPattern("\\] [ab] Queued");
    for (String job : new String[] {"a", "b"}) {
      JsonNode summary = new ObjectMapper().readTree(workdir.resolve(job).resolve("summary.json").toFile());
      assertThat(summary.get("phase").asText()).as(job).isEqualTo("Succeeded");
      assertThat(summary.get("stages")).extracting(s -> s.get("name").asText() + ":" + s.get("steps").asLong())
          .containsExactly("pretrain:20", "sft:10");
      assertThat(workdir.resolve(job).resolve("loss.png")).isNotEmptyFile();
    }
  }

  /** The tiny job on one fake GPU in queue one-gpu, few steps. */
  private Path writeJob(String name) throws IOException {
    try (var in = RunSeveralJobsTest.class.getResourceAsStream("/jobs/tiny.yaml")) {
      String yaml = new String(in.readAllBytes(), StandardCharsets.UTF_8)
          .replace("name: tiny\n", "name: " + name + "\n")
          .replace("gpusPerNode: 0", "gpusPerNode: 1")
          .replace("steps: 60", "steps: 20")
          .replace("steps: 30", "steps: 10")
          .replace("  checkpoints:\n", "  scheduling:\n    queue: one-gpu\n  checkpoints:\n");
      return Files.writeString(folder.resolve(name + ".yaml"), yaml);
    }
  }
}
