package dev.kiln.operator.lifecycle;

import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.api.runconfig.PackSummary;
import dev.kiln.api.v1alpha1.DataPrepProgress;
import dev.kiln.api.v1alpha1.DataPrepStatus;
import dev.kiln.api.v1alpha1.DataSourceSpec;
import dev.kiln.api.v1alpha1.JobPhase;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.ProgressStatus;
import dev.kiln.api.v1alpha1.StageSpec;
import dev.kiln.operator.manifests.FilterJobManifest;
import dev.kiln.operator.manifests.Names;
import dev.kiln.operator.manifests.OperatorSettings;
import dev.kiln.operator.manifests.PackJobManifest;
import dev.kiln.operator.manifests.SampleDataJobManifest;
import dev.kiln.operator.status.JobStatusAggregator;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A job's data, made ready before any stage trains: the sample data written where one is asked
 * for, each used source filtered, then each stage's data packed (prepare, plan, write, finish), one
 * Job per piece of work.
 */
final class DataPreparation {

  private final ChildResources children;
  private final EventRecorder events;
  private final OperatorSettings settings;
  private final JobOutcomes outcomes;

  DataPreparation(ChildResources children, EventRecorder events, OperatorSettings settings, JobOutcomes outcomes) {
    this.children = children;
    this.events = events;
    this.settings = settings;
    this.outcomes = outcomes;
  }

  /** CONTINUE once every stage's packed data is ready; until then, ensures the Jobs that make it. */
  Next prepareData(MultimodalPretrainJob job, JobStatusAggregator status) {
    if (status.conditionIs(JobStatusAggregator.DATA_READY, true)) {
      return Next.CONTINUE;
    }
    DataPrepStatus prep = status.current().getDataPrep();
    if (prep == null) {
      prep = new DataPrepStatus();
      prep.setPhase("Running");
      prep.setStartTime(status.now());
      status.current().setDataPrep(prep);
      events.normal(job, "DataPrepStarted", "filtering " + filteredSources(job).size() + " sources, then packing "
          + job.getSpec().stages().size() + " stages");
    }
    status.phase(JobPhase.DataPrep, "DataPrep", "filtering and packing data");

    Optional<String> sample = SampleDataJobManifest.requested(job);
    if (sample.isPresent()) {
      List<Job> writer = List.of(children.ensure(SampleDataJobManifest.build(job, sample.get(), settings)));
      if (!allComplete(writer)) {
        // Only while it writes: a claim of the user's is not in the caches, and asking costs a request.
        children.ensure(SampleDataJobManifest.dataClaim(job));
      }
      if (failIfAnyFailed(job, status, writer) || !allComplete(writer)) {
        status.phase(JobPhase.DataPrep, "DataPrep", "writing the " + sample.get() + " sample data into claim "
            + job.getSpec().data().claimName());
        return Next.STOP;
      }
    }

    List<Job> filters = new ArrayList<>();
    for (DataSourceSpec source : filteredSources(job)) {
      filters.add(children.ensure(FilterJobManifest.build(job, source, settings)));
    }
    prep.setFilterJobs(filters.stream().map(j -> j.getMetadata().getName()).toList());
    if (failIfAnyFailed(job, status, filters)) {
      return Next.STOP;
    }
    if (!allComplete(filters)) {
      reportProgress(job, status, "filter", filters);
      return Next.STOP;
    }

    // Each stage's packing steps one after another; the stages side by side.
    List<Job> packing = new ArrayList<>();
    List<Job> packs = new ArrayList<>();
    List<String> progress = new ArrayList<>();
    List<Job> running = new ArrayList<>();
    Set<String> steps = new java.util.TreeSet<>();
    for (StageSpec stage : job.getSpec().stages()) {
      Integer tasks = null;
      for (PackJobManifest.Step step : PackJobManifest.Step.values()) {
        Job made = children.ensure(tasks == null ? PackJobManifest.build(job, stage, step, settings)
            : PackJobManifest.build(job, stage, step, settings, tasks));
        tasks = tasks != null ? tasks : made.getSpec().getCompletions();
        packing.add(made);
        if (!AttemptObserver.hasCondition(made, "Complete")) {
          progress.add(stage.name() + " " + step.argument() + (step.indexed()
              ? " (" + DataPrepProgressReport.succeeded(made) + " of " + made.getSpec().getCompletions() + " tasks done)"
              : ""));
          running.add(made);
          steps.add(step.argument());
          break;
        }
        if (step == PackJobManifest.Step.FINISH) {
          packs.add(made);
        }
      }
    }
    prep.setPackJobs(packing.stream().map(j -> j.getMetadata().getName()).toList());
    if (failIfAnyFailed(job, status, packing)) {
      return Next.STOP;
    }
    if (packs.size() < job.getSpec().stages().size()) {
      status.phase(JobPhase.DataPrep, "DataPrep", "packing: " + String.join(", ", progress));
      reportProgress(job, status, "pack " + String.join(", ", steps), running);
      return Next.STOP;
    }

    if (checkPins(job, status, packs) == Next.STOP) {
      return Next.STOP;
    }
    prep.setPhase("Succeeded");
    prep.setCompletionTime(status.now());
    prep.setProgress(null);
    if (status.current().getProgress() != null && status.current().getProgress().getStage() == null) {
      status.current().setProgress(null);  // the data's, not yet a stage's
    }
    status.condition(JobStatusAggregator.DATA_READY, true, "Packed",
        packs.size() + " stages packed from " + filters.size() + " filtered sources");
    events.normal(job, "DataReady", "packed data ready for " + packs.size() + " stages");
    return Next.CONTINUE;
  }

  /**
   * Records how far the running data Jobs are, when a task has finished since last time: in
   * {@code dataPrep.progress}, and in {@code progress.display} for kubectl's Progress column.
   */
  private void reportProgress(MultimodalPretrainJob job, JobStatusAggregator status, String step, List<Job> running) {
    DataPrepProgress next = DataPrepProgressReport.of(step, running, j -> children.podsOf(job, j),
        java.time.Instant.parse(status.now()));
    DataPrepStatus prep = status.current().getDataPrep();
    if (!DataPrepProgressReport.advanced(prep.getProgress(), next)) {
      return;
    }
    prep.setProgress(next);
    ProgressStatus shown = new ProgressStatus();
    shown.setDisplay(DataPrepProgressReport.display(next));
    shown.setUpdateTime(next.getUpdateTime());
    status.current().setProgress(shown);
  }

  /**
   * Records what each pack Job reported (its manifest's and the tokenizer's sha256) and holds it
   * against {@code spec.reproduce}: a difference fails the job before any stage starts, naming
   * each pin with what was expected and what was found. Nothing is deleted: the packed data stays
   * on the claim to be compared, and a corrected spec retried with {@code restartNonce}.
   */
  private Next checkPins(MultimodalPretrainJob job, JobStatusAggregator status, List<Job> packs) {
    for (int i = 0; i < packs.size(); i++) {
      List<Pod> pods = children.podsOf(job, packs.get(i));
      Reproducibility.recordPacked(status, job.getSpec().stages().get(i).name(),
          AttemptObserver.summary(pods, PackSummary.class).orElse(null));
      Reproducibility.recordImageId(status, "dataJobs", PackJobManifest.CONTAINER, pods);
    }
    if (job.getSpec().reproduce() == null) {
      return Next.CONTINUE;
    }
    List<String> differences = Reproducibility.pinDifferences(job, Reproducibility.record(status));
    if (differences.isEmpty()) {
      status.condition(JobStatusAggregator.PINS_MATCHED, true, "AllPinsMatch",
          "the packed data and tokenizer are the ones spec.reproduce pins");
      return Next.CONTINUE;
    }
    String message = String.join("; ", differences) + ". Nothing was deleted: the packed data stays on claim "
        + Names.checkpointClaim(job) + " to compare; correct the inputs or the pins, then change spec.restartNonce";
    status.condition(JobStatusAggregator.PINS_MATCHED, false, Reproducibility.PIN_MISMATCH, message);
    status.current().getDataPrep().setPhase("Failed");
    outcomes.fail(job, status, Reproducibility.PIN_MISMATCH, message);
    return Next.STOP;
  }

  /** Sources that need a filter Job: those with a filter that some stage uses. */
  private static List<DataSourceSpec> filteredSources(MultimodalPretrainJob job) {
    Set<String> used = new LinkedHashSet<>();
    job.getSpec().stages().forEach(s -> used.addAll(s.sources()));
    return job.getSpec().data().sources().stream()
        .filter(s -> s.filter() != null && used.contains(s.name()))
        .toList();
  }

  private boolean failIfAnyFailed(MultimodalPretrainJob job, JobStatusAggregator status, List<Job> jobs) {
    for (Job child : jobs) {
      if (AttemptObserver.hasCondition(child, "Failed")) {
        status.current().getDataPrep().setPhase("Failed");
        // The cause itself, from the failing pod's last words (its termination message, or its log's tail).
        String cause = AttemptObserver.observe(child, children.podsOf(job, child), List.of())
            instanceof AttemptState.Failed failed ? failed.message() : "see its pods' logs";
        outcomes.fail(job, status, "DataPrepFailed", "Job " + child.getMetadata().getName() + " failed: " + cause);
        return true;
      }
    }
    return false;
  }

  private static boolean allComplete(List<Job> jobs) {
    return jobs.stream().allMatch(j -> AttemptObserver.hasCondition(j, "Complete"));
  }

  /**
   * The trainer found a stage's packed data unusable (exit 65: missing, damaged, or ids beyond the
   * vocabulary): a retry packs it again, from the filtered data, before the stage restarts.
   */
  void repack(MultimodalPretrainJob job, JobStatusAggregator status, String stage) {
    for (PackJobManifest.Step step : PackJobManifest.Step.values()) {
      Job pack = children.job(job.getMetadata().getNamespace(), Names.packJob(job, stage, step));
      if (pack != null) {
        children.delete(pack);
      }
    }
    if (status.current().getDataPrep() != null) {
      status.current().getDataPrep().setPhase("Running");
      status.current().getDataPrep().setCompletionTime(null);
    }
    status.condition(JobStatusAggregator.DATA_READY, false, "Repacking", "stage " + stage
        + "'s packed data was unusable; packing it again");
    events.normal(job, "Repacking", "stage " + stage + "'s packed data was unusable (exit " + ExitCodes.DATA
        + "); packing it again before the stage restarts");
  }
}
