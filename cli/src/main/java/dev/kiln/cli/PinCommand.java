package dev.kiln.cli;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.kiln.api.JobFiles;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.validation.JobValidator;
import dev.kiln.api.validation.Violation;
import dev.kiln.cli.cluster.ClusterJobs;
import dev.kiln.cli.cluster.ClusterOptions;
import dev.kiln.cli.cluster.JobStatusView;
import dev.kiln.cli.pin.PinnedJob;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code kiln pin}: the YAML that reproduces a run, to commit. From a job on a cluster ({@code kiln
 * pin NAME -n NS}) or a local run ({@code kiln pin FILE --run DIR}): the job with every stage's
 * packed data and the tokenizer pinned by sha256 ({@code spec.reproduce}) and its images by the
 * digests the kubelet reported. Applied again, it runs Succeeded on identical inputs, or stops
 * before training naming what differs.
 */
@Command(name = "pin", mixinStandardHelpOptions = true,
    description = "Write the job that reproduces a run: its packed data, tokenizer and images pinned.")
final class PinCommand implements Callable<Integer> {

  static final int NOT_PINNABLE = 1;

  @Parameters(index = "0", paramLabel = "NAME|FILE",
      description = "The job on the cluster, or (with --run) the YAML file a local run ran")
  String job;

  @Option(names = "--run", paramLabel = "DIR", description = "The local run's work dir (kiln run --workdir; by default"
      + " .kiln/runs/<job>)")
  Path run;

  @Mixin
  ClusterOptions cluster;

  @Option(names = "--name", paramLabel = "NAME", description = "Name the reproduction (default: the run's own name)")
  String rename;

  @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Write the YAML here instead of stdout")
  Path output;

  @Spec
  CommandSpec spec;

  private static final ObjectMapper JSON = new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
  private static final YAMLMapper YAML = YAMLMapper.builder().enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
      .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER).build();

  @Override
  public Integer call() throws Exception {
    PrintWriter err = spec.commandLine().getErr();
    List<JsonNode> documents;
    String source;
    int jobDocument;
    MultimodalPretrainJobStatus status;
    try {
      if (run != null) {
        documents = new ArrayList<>(JobFiles.readDocuments(Path.of(job)));
        jobDocument = firstJob(documents);
        if (jobDocument < 0) {
          err.println("kiln pin: " + job + " holds no MultimodalPretrainJob");
          err.flush();
          return NOT_PINNABLE;
        }
        String name = documents.get(jobDocument).at("/metadata/name").asText();
        Path statusFile = Files.exists(run.resolve("status.json")) ? run.resolve("status.json")
            : run.resolve(name).resolve("status.json");
        if (!Files.exists(statusFile)) {
          err.println("kiln pin: no status.json of job " + name + " in " + run + ": give the work dir of a kiln run of "
              + job);
          err.flush();
          return NOT_PINNABLE;
        }
        status = JSON.readValue(statusFile.toFile(), MultimodalPretrainJobStatus.class);
        source = "the local run in " + run + " of " + job;
      } else {
        try (ClusterJobs jobs = cluster.connect()) {
          String ns = cluster.namespace(jobs);
          JsonNode live = jobs.job(ns, job);
          status = JobStatusView.status(live);
          documents = new ArrayList<>(List.of(live));
          jobDocument = 0;
          source = "job " + ns + "/" + job;
        }
      }
    } catch (JobFiles.JobFileException e) {
      err.println("kiln pin: " + e.getMessage());
      err.flush();
      return NOT_PINNABLE;
    } catch (ClusterJobs.Unreachable e) {
      err.println("kiln pin: " + e.getMessage());
      err.flush();
      return NOT_PINNABLE;
    }

    PinnedJob.Result pinned;
    try {
      pinned = PinnedJob.pin(documents.get(jobDocument), status, rename);
    } catch (PinnedJob.NotPinnable e) {
      err.println("kiln pin: " + e.getMessage());
      err.flush();
      return NOT_PINNABLE;
    }
    documents.set(jobDocument, pinned.job());
    List<Violation> violations = JobValidator.validate(JobFiles.fromTree(pinned.job(), "pinned"));
    if (!violations.isEmpty()) {
      violations.forEach(v -> err.println("kiln pin: the pinned job would be invalid: " + v));
      err.flush();
      return NOT_PINNABLE;
    }
    pinned.warnings().forEach(w -> err.println("kiln pin: " + w));

    StringBuilder yaml = new StringBuilder("# Pinned by kiln pin from " + source + ".\n# A run of this job must find the"
        + " same packed data, tokenizer and images, or it stops before training naming each difference.\n");
    for (int i = 0; i < documents.size(); i++) {
      String document = YAML.writeValueAsString(documents.get(i));
      yaml.append(i > 0 ? "---\n" : "").append(document).append(document.endsWith("\n") ? "" : "\n");
    }
    if (output != null) {
      Files.writeString(output, yaml);
      err.println("kiln pin: wrote " + output);
    } else {
      spec.commandLine().getOut().print(yaml);
      spec.commandLine().getOut().flush();
    }
    err.flush();
    return 0;
  }

  private static int firstJob(List<JsonNode> documents) {
    for (int i = 0; i < documents.size(); i++) {
      if (MultimodalPretrainJob.KIND.equals(documents.get(i).path("kind").asText())) {
        return i;
      }
    }
    return -1;
  }
}
