package dev.kiln.cli;

import dev.kiln.api.JobFiles;
import dev.kiln.api.scheduling.QueueNamespaces;
import dev.kiln.api.sizing.MemoryFit;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.SchedulingSpec;
import dev.kiln.api.v1alpha1.TrainingQueue;
import dev.kiln.api.validation.JobValidator;
import dev.kiln.api.validation.Violation;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code kiln validate FILE...}: every rule the API server and the operator apply, with no
 * cluster. Prints {@code valid} per valid job on stdout; one line per problem, starting with
 * the field path, per invalid one. Which file and job each line is about goes to stderr, and so do
 * warnings about valid jobs (a GPU stage that does not fit its GPUs' memory by {@link MemoryFit}).
 */
@Command(name = "validate", mixinStandardHelpOptions = true,
    description = {"Check MultimodalPretrainJob (and TrainingQueue) files as the API server and the operator would.",
        "A job given with the queue it names is refused when the queue's namespaceSelector does not admit its namespace."})
final class ValidateCommand implements Callable<Integer> {

  static final int INVALID = 1;

  /**
   * The first job in {@code file} when the file parses and the job is valid; otherwise prints
   * why, one line per problem starting with the field path, and returns empty.
   */
  static Optional<MultimodalPretrainJob> readValid(Path file, PrintWriter out) {
    Optional<JobFiles.Manifests> manifests = readValidManifests(file, out);
    if (manifests.isPresent() && manifests.get().jobs().isEmpty()) {
      out.println("(file): no MultimodalPretrainJob in it");
      return Optional.empty();
    }
    return manifests.map(m -> m.jobs().getFirst());
  }

  /**
   * The jobs and TrainingQueues in {@code file} when the file parses and every job in it is valid;
   * otherwise prints why, one line per problem starting with the field path, and returns empty.
   */
  static Optional<JobFiles.Manifests> readValidManifests(Path file, PrintWriter out) {
    JobFiles.Manifests manifests;
    try {
      manifests = JobFiles.readManifests(file);
    } catch (JobFiles.JobFileException e) {
      out.println(e.violation());
      return Optional.empty();
    }
    if (manifests.jobs().isEmpty() && manifests.queues().isEmpty()) {
      out.println("(file): no MultimodalPretrainJob or TrainingQueue in it");
      return Optional.empty();
    }
    boolean valid = true;
    for (MultimodalPretrainJob job : manifests.jobs()) {
      List<Violation> violations = JobValidator.validate(job);
      if (!violations.isEmpty() && manifests.jobs().size() > 1) {
        out.println("(" + job.getMetadata().getName() + "):");
      }
      violations.forEach(out::println);
      valid &= violations.isEmpty();
    }
    return valid ? Optional.of(manifests) : Optional.empty();
  }

  @Parameters(arity = "1..*", paramLabel = "FILE", description = "YAML files, one or more jobs or queues each")
  List<Path> files;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    boolean allValid = true;
    Map<String, TrainingQueue> queues = queuesIn(files);
    for (Path file : files) {
      JobFiles.Manifests manifests;
      try {
        manifests = JobFiles.readManifests(file);
      } catch (JobFiles.JobFileException e) {
        err.println(file + ":");
        out.println(e.violation());
        allValid = false;
        continue;
      }
      if (manifests.jobs().isEmpty() && manifests.queues().isEmpty()) {
        err.println(file + ":");
        out.println("(file): no MultimodalPretrainJob or TrainingQueue in it");
        allValid = false;
      }
      for (TrainingQueue queue : manifests.queues()) {
        err.println(file + " (TrainingQueue " + queue.getMetadata().getName() + "):");
        out.println("valid");  // read against the queue CRD's schema, which is all a queue is checked against
      }
      for (MultimodalPretrainJob job : manifests.jobs()) {
        err.println(file + " (" + job.getMetadata().getName() + "):");
        List<Violation> violations = new ArrayList<>(JobValidator.validate(job));
        queueRefusal(job, queues, err).ifPresent(violations::add);
        violations.forEach(out::println);
        if (violations.isEmpty()) {
          out.println("valid");
          MemoryFit.warnings(job, MemoryFit.CAPTION_TOKENS).forEach(warning -> err.println("warning: " + warning));
        }
        allValid &= violations.isEmpty();
      }
    }
    out.flush();
    err.flush();
    return allValid ? 0 : INVALID;
  }

  /** The TrainingQueues among the files, by name: jobs given with the queues they name are checked against them. */
  private static Map<String, TrainingQueue> queuesIn(List<Path> files) {
    Map<String, TrainingQueue> queues = new HashMap<>();
    for (Path file : files) {
      try {
        JobFiles.readManifests(file).queues().forEach(q -> queues.put(q.getMetadata().getName(), q));
      } catch (JobFiles.JobFileException e) {
        // reported with its file below
      }
    }
    return queues;
  }

  /**
   * A job whose queue (given among the files) does not admit its namespace, as the operator would
   * refuse it; where only the namespace's labels could tell, a warning instead.
   */
  private static Optional<Violation> queueRefusal(MultimodalPretrainJob job, Map<String, TrainingQueue> queues,
      PrintWriter err) {
    String queueName = job.getSpec().scheduling().queue();
    TrainingQueue queue = queues.get(queueName);
    if (queue == null || job.getSpec().scheduling().mode() != SchedulingSpec.Mode.BUILTIN
        || queue.getSpec().namespaceSelector() == null) {
      return Optional.empty();
    }
    String namespace = job.getMetadata().getNamespace();
    if (namespace == null || namespace.isBlank()) {
      err.println("warning: metadata.namespace is unset: whether TrainingQueue " + queueName
          + " admits the namespace it is applied in is checked when it is applied");
      return Optional.empty();
    }
    if (QueueNamespaces.admits(queue.getSpec(), namespace, Map.of())) {
      return Optional.empty();
    }
    Set<String> unseen = QueueNamespaces.labelsRead(queue.getSpec());
    if (!unseen.isEmpty()) {
      err.println("warning: TrainingQueue " + queueName + " admits namespaces by their labels (" + String.join(", ", unseen)
          + "), which kiln validate does not see: whether it admits " + namespace + " is checked when the job is applied");
      return Optional.empty();
    }
    return Optional.of(new Violation("spec.scheduling.queue", "TrainingQueue " + queueName + " does not admit namespace "
        + namespace + " (its namespaceSelector: " + QueueNamespaces.describe(queue.getSpec()) + ")"));
  }
}
