package dev.kiln.api.validation;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

/** Every CEL rule of the CRD fits the API server's cost limits, estimated from the declared bounds. */
class CelCostTest {

  @Test
  void everyRuleFitsThePerCallLimitAndAllFitTheObjectBudget() {
    CrdSchema crd = CrdSchema.multimodalPretrainJob();
    long total = 0;
    for (CrdSchema.Rule rule : crd.rules()) {
      long cost = CelCost.of(rule);
      long times = CelCost.cardinality(crd, rule);
      System.out.printf("%-28s cost %8d x %3d  %s%n", rule.path(), cost, times, rule.expression());
      assertThat(cost).as("worst-case cost of %s at %s", rule.expression(), rule.path())
          .isPositive().isLessThanOrEqualTo(CelCost.PER_CALL_LIMIT);
      total += cost * times;
    }
    assertThat(total).isLessThanOrEqualTo(CelCost.OBJECT_BUDGET);
  }

  @Test
  void unboundedStringsMakeTheUniqueNameRuleFarTooExpensive() throws IOException {
    ObjectNode crd = rawCrd();
    ObjectNode name = (ObjectNode) crd.at("/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/data"
        + "/properties/sources/items/properties/name");
    name.remove("maxLength");
    CrdSchema.Rule unique = CrdSchema.fromCrd(crd).rules().stream()
        .filter(r -> r.path().equals("spec.data")).findFirst().orElseThrow();

    // 32 x 32 comparisons of two 3 MiB strings: about 3 x 10^8, what the API server would refuse.
    assertThat(CelCost.of(unique)).isGreaterThan(100 * CelCost.PER_CALL_LIMIT);
  }

  @Test
  void cardinalityMultipliesTheBoundsOfTheListsAbove() {
    CrdSchema crd = CrdSchema.multimodalPretrainJob();
    CrdSchema.Rule filter = crd.rules().stream().filter(r -> r.path().equals("spec.data.sources[].filter"))
        .findFirst().orElseThrow();

    assertThat(CelCost.cardinality(crd, filter)).isEqualTo(32);
  }

  private static ObjectNode rawCrd() throws IOException {
    try (InputStream in = CelCostTest.class.getResourceAsStream(CrdSchema.JOB_CRD)) {
      JsonNode crd = new YAMLMapper().readTree(in);
      return (ObjectNode) crd;
    }
  }
}
