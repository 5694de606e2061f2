package dev.kiln.api.scheduling;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.v1alpha1.TrainingQueueSpec;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A queue's namespaceSelector admits namespaces as a Kubernetes label selector selects them. */
@Timeout(10)
class QueueNamespacesTest {

  @Test
  void everyNamespaceWithoutASelector() {
    assertThat(QueueNamespaces.admits(queue(null), "anyone", Map.of())).isTrue();
    assertThat(QueueNamespaces.admits(queue(new LabelSelector()), "anyone", Map.of())).as("the empty selector").isTrue();
  }

  @Test
  void matchLabelsAndExpressionsAllHoldAndTheNamespacesNameCounts() {
    TrainingQueueSpec vision = queue(new LabelSelectorBuilder().withMatchLabels(Map.of("team", "vision"))
        .addNewMatchExpression().withKey("tier").withOperator("NotIn").withValues("sandbox").endMatchExpression()
        .build());
    assertThat(QueueNamespaces.admits(vision, "cv", Map.of("team", "vision"))).isTrue();
    assertThat(QueueNamespaces.admits(vision, "cv", Map.of("team", "vision", "tier", "sandbox"))).isFalse();
    assertThat(QueueNamespaces.admits(vision, "nlp", Map.of("team", "language"))).isFalse();
    assertThat(QueueNamespaces.describe(vision)).isEqualTo("team=vision, tier notin (sandbox)");
    assertThat(QueueNamespaces.labelsRead(vision)).containsExactly("team", "tier");

    TrainingQueueSpec byName = queue(new LabelSelectorBuilder().addNewMatchExpression()
        .withKey(QueueNamespaces.NAME_LABEL).withOperator("In").withValues("research", "prod")
        .endMatchExpression().build());
    assertThat(QueueNamespaces.admits(byName, "research", Map.of())).as("the API server labels every namespace with its name")
        .isTrue();
    assertThat(QueueNamespaces.admits(byName, "default", Map.of())).isFalse();
    assertThat(QueueNamespaces.labelsRead(byName)).as("decidable from the name alone").isEmpty();

    TrainingQueueSpec labelled = queue(new LabelSelectorBuilder().addNewMatchExpression().withKey("gpu-team")
        .withOperator("Exists").endMatchExpression().addNewMatchExpression().withKey("frozen").withOperator("DoesNotExist")
        .endMatchExpression().build());
    assertThat(QueueNamespaces.admits(labelled, "a", Map.of("gpu-team", ""))).isTrue();
    assertThat(QueueNamespaces.admits(labelled, "a", Map.of("gpu-team", "", "frozen", "yes"))).isFalse();
    assertThat(QueueNamespaces.admits(labelled, "a", Map.of())).isFalse();
  }

  private static TrainingQueueSpec queue(LabelSelector selector) {
    return new TrainingQueueSpec(null, null, null, null, selector);
  }
}
