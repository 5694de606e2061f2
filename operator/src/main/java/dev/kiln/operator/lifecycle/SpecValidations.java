package dev.kiln.operator.lifecycle;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.validation.JobValidator;
import dev.kiln.api.validation.Violation;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Each job's spec validation (the CRD's schema and rules, and Kiln's own), remembered by the job's
 * uid and generation: a spec is checked once per change, not on every reconcile (at 1,000 jobs the
 * checks were a fifth of the operator's CPU). The API server moves the generation on every spec
 * change; a job without one is checked every time.
 */
public final class SpecValidations {

  /** Jobs remembered at most; the least recently reconciled are forgotten first. */
  static final int REMEMBERED = 10_000;

  private final Function<MultimodalPretrainJob, List<Violation>> validator;
  private final Map<String, List<Violation>> byGeneration = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, List<Violation>> eldest) {
      return size() > REMEMBERED;
    }
  };

  public SpecValidations() {
    this(JobValidator::validate);
  }

  SpecValidations(Function<MultimodalPretrainJob, List<Violation>> validator) {
    this.validator = validator;
  }

  /** What is wrong with the job's spec (empty when it is valid). */
  public List<Violation> of(MultimodalPretrainJob job) {
    Long generation = job.getMetadata().getGeneration();
    String uid = job.getMetadata().getUid();
    if (generation == null || uid == null) {
      return validator.apply(job);
    }
    String key = uid + "/" + generation;
    synchronized (byGeneration) {
      List<Violation> known = byGeneration.get(key);
      if (known != null) {
        return known;
      }
    }
    List<Violation> violations = List.copyOf(validator.apply(job));  // outside the lock: other jobs need not wait
    synchronized (byGeneration) {
      byGeneration.put(key, violations);
    }
    return violations;
  }
}
