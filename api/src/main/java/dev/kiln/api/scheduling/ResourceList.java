package dev.kiln.api.scheduling;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Amounts of resources by name ({@code cpu}, {@code memory}, {@code nvidia.com/gpu}, {@code pods},
 * any extended resource) in thousandths, rounded up: what a pod requests or a node has free, as the
 * kube-scheduler's NodeResourcesFit sums and compares them.
 */
public record ResourceList(Map<String, Long> milli) {

  public static final String GPU = "nvidia.com/gpu";
  public static final String PODS = "pods";
  public static final ResourceList NONE = new ResourceList(Map.of());

  public ResourceList {
    milli = Map.copyOf(milli);
  }

  public static ResourceList of(Map<String, Quantity> quantities) {
    Map<String, Long> milli = new TreeMap<>();
    if (quantities != null) {
      quantities.forEach((name, quantity) -> milli.put(name, thousandths(quantity)));
    }
    return new ResourceList(milli);
  }

  /** What one pod with these container requests takes on a node: them and its pod slot. */
  public static ResourceList pod(Map<String, Quantity> requests) {
    return of(requests).plus(new ResourceList(Map.of(PODS, 1000L)));
  }

  /** Only {@code gpus} GPUs (and the pod slot every pod takes). */
  public static ResourceList gpus(int gpus) {
    return new ResourceList(Map.of(GPU, gpus * 1000L, PODS, 1000L));
  }

  /**
   * What the scheduler counts for a pod (upstream's {@code resource.PodRequests}): the containers'
   * requests summed (limits where a request is absent, as the API server defaults them), each init
   * container's taken as a maximum (restartable sidecars added to both, as they keep running), the
   * RuntimeClass overhead, and one pod slot.
   */
  public static ResourceList requestedBy(Pod pod) {
    ResourceList containers = sum(pod.getSpec().getContainers());
    ResourceList sidecars = NONE;
    ResourceList initPeak = NONE;
    for (Container init : pod.getSpec().getInitContainers() == null ? List.<Container>of() : pod.getSpec().getInitContainers()) {
      ResourceList own = requestedBy(init);
      if ("Always".equals(init.getRestartPolicy())) {
        containers = containers.plus(own);
        sidecars = sidecars.plus(own);
        initPeak = initPeak.max(sidecars);
      } else {
        initPeak = initPeak.max(own.plus(sidecars));
      }
    }
    return containers.max(initPeak).plus(ResourceList.of(pod.getSpec().getOverhead()))
        .plus(new ResourceList(Map.of(PODS, 1000L)));
  }

  /** A container's requests, its limits standing in for requests it does not set. */
  public static ResourceList requestedBy(Container container) {
    var resources = container.getResources();
    if (resources == null) {
      return NONE;
    }
    Map<String, Quantity> requested = new TreeMap<>();
    if (resources.getLimits() != null) {
      requested.putAll(resources.getLimits());
    }
    if (resources.getRequests() != null) {
      requested.putAll(resources.getRequests());
    }
    return of(requested);
  }

  private static ResourceList sum(List<Container> containers) {
    ResourceList total = NONE;
    for (Container container : containers) {
      total = total.plus(requestedBy(container));
    }
    return total;
  }

  public long get(String name) {
    return milli.getOrDefault(name, 0L);
  }

  public int gpus() {
    return (int) (get(GPU) / 1000);
  }

  public ResourceList plus(ResourceList other) {
    return combine(other, 1);
  }

  public ResourceList minus(ResourceList other) {
    return combine(other, -1);
  }

  public ResourceList times(int n) {
    Map<String, Long> scaled = new TreeMap<>();
    milli.forEach((name, amount) -> scaled.put(name, amount * n));
    return new ResourceList(scaled);
  }

  /** As much of this as {@code available} holds: each resource the lesser of the two, none where nothing is available. */
  public ResourceList within(ResourceList available) {
    Map<String, Long> held = new TreeMap<>();
    milli.forEach((name, amount) -> held.put(name, Math.max(0, Math.min(amount, available.get(name)))));
    return new ResourceList(held);
  }

  private ResourceList combine(ResourceList other, int sign) {
    if (other.milli.isEmpty()) {
      return this;
    }
    Map<String, Long> combined = new TreeMap<>(milli);
    other.milli.forEach((name, amount) -> combined.merge(name, sign * amount, Long::sum));
    return new ResourceList(combined);
  }

  private ResourceList max(ResourceList other) {
    Map<String, Long> combined = new TreeMap<>(milli);
    other.milli.forEach((name, amount) -> combined.merge(name, amount, Math::max));
    return new ResourceList(combined);
  }

  /** The first resource (by name) this request asks more of than {@code free} has, or null when it fits. */
  public String shortOf(ResourceList free) {
    return milli.entrySet().stream().filter(e -> e.getValue() > 0 && e.getValue() > free.get(e.getKey()))
        .map(Map.Entry::getKey).sorted().findFirst().orElse(null);
  }

  /** "6 cpu", "32Gi memory", "1 rdma/ib": how much of {@code name} this holds, as a person reads it. */
  public String describe(String name) {
    long amount = get(name);
    if ("memory".equals(name)) {
      return BigDecimal.valueOf(amount).divide(BigDecimal.valueOf(1000L << 30), 1, RoundingMode.CEILING)
          .stripTrailingZeros().toPlainString() + "Gi memory";
    }
    return BigDecimal.valueOf(amount).divide(BigDecimal.valueOf(1000), 3, RoundingMode.CEILING)
        .stripTrailingZeros().toPlainString() + " " + name;
  }

  /**
   * How much of {@code name} this holds, as a Kubernetes quantity: "96", "500m", and memory in the
   * largest binary unit that holds it whole ("384Gi").
   */
  public String quantity(String name) {
    long amount = get(name);
    if (amount % 1000 != 0) {
      return amount + "m";
    }
    long whole = amount / 1000;
    if ("memory".equals(name) && whole != 0) {
      String[] units = {"Ti", "Gi", "Mi", "Ki"};
      for (int i = 0; i < units.length; i++) {
        long unit = 1L << (10 * (units.length - i));
        if (whole % unit == 0) {
          return whole / unit + units[i];
        }
      }
    }
    return Long.toString(whole);
  }

  /** A Kubernetes quantity ("96", "4Ti") in thousandths, rounded up, as this counts. */
  public static long thousandths(String quantity) {
    return thousandths(new Quantity(quantity));
  }

  private static long thousandths(Quantity quantity) {
    return quantity.getNumericalAmount().multiply(BigDecimal.valueOf(1000)).setScale(0, RoundingMode.CEILING)
        .longValueExact();
  }
}
