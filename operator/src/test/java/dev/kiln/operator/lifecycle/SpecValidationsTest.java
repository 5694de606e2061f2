package dev.kiln.operator.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.validation.Violation;
import dev.kiln.operator.TestJobs;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A spec is validated once per generation; a new generation, or none, is validated again. */
@Timeout(10)
class SpecValidationsTest {

  private final AtomicInteger checks = new AtomicInteger();
  private final SpecValidations validations = new SpecValidations(job -> {
    checks.incrementAndGet();
    return List.of(new Violation("spec.stages", "generation " + job.getMetadata().getGeneration()));
  });

  @Test
  void aSpecIsCheckedOncePerGeneration() {
    MultimodalPretrainJob job = job("uid-1", 1L);

    List<Violation> first = validations.of(job);
    List<Violation> again = validations.of(job("uid-1", 1L));

    assertThat(again).isEqualTo(first);
    assertThat(checks).as("the second reconcile of the same spec reuses the first check").hasValue(1);
    assertThat(validations.of(job("uid-1", 2L))).as("an edited spec is checked again").isNotEqualTo(first);
    assertThat(validations.of(job("uid-2", 1L))).as("another job (same name, recreated) too").isNotNull();
    assertThat(checks).hasValue(3);
  }

  @Test
  void aJobWithoutAGenerationIsCheckedEveryTime() {
    validations.of(job("uid-1", null));
    validations.of(job("uid-1", null));

    assertThat(checks).hasValue(2);
  }

  @Test
  void theRealValidatorsVerdictIsWhatIsRemembered() {
    MultimodalPretrainJob valid = job("uid-1", 1L);
    MultimodalPretrainJob invalid = job("uid-2", 1L);
    invalid.getMetadata().setName("Not_A_DNS_Label");

    SpecValidations real = new SpecValidations();

    assertThat(real.of(valid)).isEmpty();
    assertThat(real.of(invalid)).isNotEmpty().anyMatch(v -> v.field().startsWith("metadata.name"));
  }

  private static MultimodalPretrainJob job(String uid, Long generation) {
    MultimodalPretrainJob job = TestJobs.example("open-qwen2vl.yaml");
    job.getMetadata().setUid(uid);
    job.getMetadata().setGeneration(generation);
    return job;
  }
}
