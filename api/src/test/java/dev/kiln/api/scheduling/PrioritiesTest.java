package dev.kiln.api.scheduling;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClass;
import io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClassBuilder;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Priorities resolve as the API server's Priority admission plugin resolves a pod's. */
@Timeout(10)
class PrioritiesTest {

  private static PriorityClass priorityClass(String name, int value, boolean globalDefault) {
    return new PriorityClassBuilder().withNewMetadata().withName(name).endMetadata().withValue(value)
        .withGlobalDefault(globalDefault).build();
  }

  @Test
  void aNamedClassGivesItsValueAndAMissingOneNothing() {
    var classes = List.of(priorityClass("research-high", 1000, false), priorityClass("research-low", 10, false));
    assertThat(Priorities.resolve("research-high", classes)).isEqualTo(OptionalInt.of(1000));
    assertThat(Priorities.resolve("research-low", classes)).isEqualTo(OptionalInt.of(10));
    assertThat(Priorities.resolve("research-urgent", classes)).isEmpty();
    assertThat(Priorities.missing("research-urgent")).isEqualTo("no PriorityClass with name research-urgent was found");
  }

  @Test
  void noNameGivesTheLowestGlobalDefaultOrZero() {
    assertThat(Priorities.resolve(null, List.of(priorityClass("high", 1000, false)))).isEqualTo(OptionalInt.of(0));
    assertThat(Priorities.resolve("", List.of(priorityClass("batch", 100, true), priorityClass("other", 50, true),
        priorityClass("high", 1000, false)))).isEqualTo(OptionalInt.of(50));
  }
}
