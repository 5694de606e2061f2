package dev.kiln.api.scheduling;

import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.node.v1.RuntimeClass;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the API server's RuntimeClass admission plugin does to a pod it creates
 * (plugin/pkg/admission/runtimeclass): a pod naming a class that does not exist is refused; the
 * class's {@code overhead.podFixed} becomes the pod's {@code overhead}, which the scheduler and
 * quotas count on top of its containers' requests; the class's {@code scheduling.nodeSelector}
 * is merged into the pod's (a different value for the same key refuses the pod) and its
 * tolerations are added. The Builtin queue plans a stage's pods as admitted, and the local API
 * server admits pods by it as a real one does.
 */
public final class RuntimeClasses {

  private RuntimeClasses() {}

  /** A pod's scheduling-relevant fields as admitted, or why it is refused (403 Forbidden). */
  public record Admitted(Map<String, Quantity> overhead, Map<String, String> nodeSelector, List<Toleration> tolerations,
      String refusal) {

    public boolean refused() {
      return refusal != null;
    }

    static Admitted refusing(String refusal) {
      return new Admitted(null, null, null, refusal);
    }
  }

  /**
   * The pod naming {@code className} (null or empty: none), with the {@code overhead},
   * {@code nodeSelector} and {@code tolerations} it was sent with, as admitted among {@code classes}.
   * Tolerations equal to one the pod has are not added twice (upstream also drops those another
   * toleration covers, which changes nothing the scheduler decides).
   */
  public static Admitted admit(String className, Map<String, Quantity> overhead, Map<String, String> nodeSelector,
      List<Toleration> tolerations, Collection<RuntimeClass> classes) {
    // An empty overhead is none, as a Go client, which omits empty maps, would send it.
    overhead = overhead == null || overhead.isEmpty() ? null : overhead;
    Map<String, String> selector = nodeSelector == null ? null : new LinkedHashMap<>(nodeSelector);
    List<Toleration> tolerating = tolerations == null ? null : new ArrayList<>(tolerations);
    if (className == null || className.isEmpty()) {
      return overhead != null
          ? Admitted.refusing("pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead")
          : new Admitted(overhead, selector, tolerating, null);
    }
    Optional<RuntimeClass> found = classes.stream().filter(c -> className.equals(c.getMetadata().getName())).findFirst();
    if (found.isEmpty()) {
      return Admitted.refusing(missing(className));
    }
    RuntimeClass runtime = found.get();
    Map<String, Quantity> podFixed = runtime.getOverhead() == null ? null : runtime.getOverhead().getPodFixed();
    Map<String, Quantity> admittedOverhead = overhead;
    if (podFixed != null) {
      if (overhead != null && !ResourceList.of(overhead).equals(ResourceList.of(podFixed))) {
        return Admitted.refusing("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead");
      }
      admittedOverhead = podFixed;
    } else if (overhead != null) {
      return Admitted.refusing("pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead");
    }
    var scheduling = runtime.getScheduling();
    if (scheduling != null && scheduling.getNodeSelector() != null) {
      if (selector == null) {
        selector = new LinkedHashMap<>(scheduling.getNodeSelector());
      } else {
        for (var entry : scheduling.getNodeSelector().entrySet()) {
          String podValue = selector.get(entry.getKey());
          if (podValue != null && !podValue.equals(entry.getValue())) {
            return Admitted.refusing("conflict: runtimeClass.scheduling.nodeSelector[" + entry.getKey() + "] = "
                + entry.getValue() + "; pod.spec.nodeSelector[" + entry.getKey() + "] = " + podValue);
          }
          selector.put(entry.getKey(), entry.getValue());
        }
      }
    }
    if (scheduling != null && scheduling.getTolerations() != null && !scheduling.getTolerations().isEmpty()) {
      tolerating = tolerating == null ? new ArrayList<>() : tolerating;
      for (Toleration toleration : scheduling.getTolerations()) {
        if (!tolerating.contains(toleration)) {
          tolerating.add(toleration);
        }
      }
    }
    return new Admitted(admittedOverhead, selector, tolerating, null);
  }

  /** What the API server answers a pod naming a class that does not exist. */
  public static String missing(String className) {
    return "pod rejected: RuntimeClass \"" + className + "\" not found";
  }
}
