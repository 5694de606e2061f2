package dev.kiln.api.scheduling;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import io.fabric8.kubernetes.api.model.node.v1.RuntimeClass;
import io.fabric8.kubernetes.api.model.node.v1.RuntimeClassBuilder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RuntimeClassesTest {

  static final Toleration GPU = new TolerationBuilder().withKey("nvidia.com/gpu").withOperator("Exists")
      .withEffect("NoSchedule").build();
  static final Toleration KATA = new TolerationBuilder().withKey("runtime").withValue("kata").withOperator("Equal")
      .withEffect("NoSchedule").build();

  static final RuntimeClass KATA_CLASS = new RuntimeClassBuilder().withNewMetadata().withName("kata").endMetadata()
      .withHandler("kata").withNewOverhead().addToPodFixed("cpu", new Quantity("250m"))
      .addToPodFixed("memory", new Quantity("160Mi")).endOverhead()
      .withNewScheduling().addToNodeSelector("runtime", "kata").withTolerations(KATA, GPU).endScheduling().build();
  static final RuntimeClass NVIDIA = new RuntimeClassBuilder().withNewMetadata().withName("nvidia").endMetadata()
      .withHandler("nvidia").build();

  @Test
  void aClassWithOverheadAndSchedulingSetsThemOnThePod() {
    RuntimeClasses.Admitted admitted = RuntimeClasses.admit("kata", null, Map.of("pool", "gpu"), List.of(GPU),
        List.of(NVIDIA, KATA_CLASS));

    assertThat(admitted.refused()).isFalse();
    assertThat(ResourceList.of(admitted.overhead())).isEqualTo(ResourceList.of(Map.of("cpu", new Quantity("0.25"),
        "memory", new Quantity("160Mi"))));
    assertThat(admitted.nodeSelector()).containsExactlyInAnyOrderEntriesOf(Map.of("pool", "gpu", "runtime", "kata"));
    assertThat(admitted.tolerations()).as("the pod's own, then the class's it lacks").containsExactly(GPU, KATA);
  }

  @Test
  void aClassWithNeitherLeavesThePodAsItIs() {
    RuntimeClasses.Admitted admitted = RuntimeClasses.admit("nvidia", null, Map.of("pool", "gpu"), List.of(GPU),
        List.of(NVIDIA));

    assertThat(admitted.refused()).isFalse();
    assertThat(admitted.overhead()).isNull();
    assertThat(admitted.nodeSelector()).isEqualTo(Map.of("pool", "gpu"));
    assertThat(admitted.tolerations()).containsExactly(GPU);
  }

  @Test
  void refusedAsTheApiServerRefusesThem() {
    assertThat(RuntimeClasses.admit("gvisor", null, null, null, List.of(KATA_CLASS)).refusal())
        .isEqualTo("pod rejected: RuntimeClass \"gvisor\" not found");
    assertThat(RuntimeClasses.admit("kata", null, Map.of("runtime", "runc"), null, List.of(KATA_CLASS)).refusal())
        .isEqualTo("conflict: runtimeClass.scheduling.nodeSelector[runtime] = kata; pod.spec.nodeSelector[runtime] = runc");
    assertThat(RuntimeClasses.admit("kata", Map.of("cpu", new Quantity("1")), null, null, List.of(KATA_CLASS)).refusal())
        .isEqualTo("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead");
    assertThat(RuntimeClasses.admit(null, Map.of("cpu", new Quantity("1")), null, null, List.of(KATA_CLASS)).refusal())
        .isEqualTo("pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead");
    assertThat(RuntimeClasses.admit("kata", Map.of("cpu", new Quantity("250m"), "memory", new Quantity("160Mi")), null,
        null, List.of(KATA_CLASS)).refused()).as("positive control: the class's own overhead, sent again").isFalse();
    assertThat(RuntimeClasses.admit(null, null, null, null, List.of()).refused()).isFalse();
    assertThat(RuntimeClasses.admit("kata", Map.of(), null, null, List.of(KATA_CLASS)).refused())
        .as("an empty overhead is none").isFalse();
  }
}
