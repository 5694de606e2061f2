package dev.kiln.operator.admission;

import dev.kiln.api.scheduling.ResourceList;
import dev.kiln.api.scheduling.Tolerations;
import dev.kiln.operator.manifests.StageJobManifest;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Free resources per GPU node, as the scheduler will find them: the allocatable amounts (GPUs,
 * cpu, memory, pod slots, extended resources) of nodes that are ready and schedulable, minus what
 * the pods bound there request. A gang may use a node whose labels carry its GPU product and node
 * selector, whose taints it tolerates (the GPU taint always; others by the stage's tolerations) and
 * where everything one of its pods requests is free. Admission places whole gangs on it (best fit
 * by GPUs, so big gangs still find whole nodes); a gang that does not fit takes nothing.
 */
public final class ClusterRoom {

  private static final String GPU = ResourceList.GPU;
  private static final Toleration GPU_TOLERATION = StageJobManifest.gpuToleration();
  private static final String PRODUCT_LABEL = StageJobManifest.GPU_PRODUCT_LABEL;
  /** The prefix of the taints the node lifecycle controller sets and lifts (not-ready, unreachable, unschedulable, pressure). */
  private static final String CONDITION_TAINTS = "node.kubernetes.io/";
  /** The taints the cloud node controllers set on a node that is shut down or not yet initialised: lifted when it is back. */
  private static final Set<String> CLOUD_CONDITION_TAINTS = Set.of("node.cloudprovider.kubernetes.io/shutdown",
      "node.cloudprovider.kubernetes.io/uninitialized");

  private final Map<String, ResourceList> free;
  /**
   * What each GPU node has in all, with no pod on it, cordoned, not ready or not: what a gang could
   * use there once it is back and free (the GPUs of its capacity while it is not usable: allocatable
   * drops to 0 while the device plugin restarts).
   */
  private final Map<String, ResourceList> wholeNodes;
  /**
   * Why each gang shape cannot start on these nodes even with no pod running ("" when it can):
   * it does not change while the nodes do not, so copies share it.
   */
  private final Map<Gang, String> neverFits;
  private final Map<String, Map<String, String>> labels;
  private final Map<String, List<Taint>> taints;
  /** GPUs that pods being deleted still hold, per node: free once they have stopped, not before. */
  private final Map<String, Integer> terminating;
  /**
   * Gangs found not to fit, and free GPUs per gang, since the room last grew: a queue's plan asks
   * the same of hundreds of waiting stages of few shapes, and placing or reserving only takes room.
   */
  private final Set<Gang> unplaceable = new HashSet<>();
  /** Room held for one job each (its key), by node: where it preempted to run, kept from everyone else. */
  private final Map<String, Map<String, ResourceList>> setAside;
  /**
   * The part of each job's set-aside room not free yet, by node: its victims still hold it. Room
   * one of its victims gives back there goes to it before anyone else may take it.
   */
  private final Map<String, Map<String, ResourceList>> owed;
  /** The victims (namespace/attempt Job) each job with room set aside stops for it. */
  private final Map<String, Set<String>> victimsOf;
  private final Map<Gang, Integer> freeFor = new HashMap<>();
  /** Moves whenever room is taken or given back: what was said of the room before may no longer hold. */
  private long changes;

  private ClusterRoom(Map<String, ResourceList> free, Map<String, ResourceList> wholeNodes,
      Map<Gang, String> neverFits, Map<String, Map<String, String>> labels,
      Map<String, List<Taint>> taints, Map<String, Integer> terminating,
      Map<String, Map<String, ResourceList>> setAside, Map<String, Map<String, ResourceList>> owed,
      Map<String, Set<String>> victimsOf) {
    this.free = free;
    this.wholeNodes = wholeNodes;
    this.neverFits = neverFits;
    this.setAside = setAside;
    this.owed = owed;
    this.victimsOf = victimsOf;
    this.labels = labels;
    this.taints = taints;
    this.terminating = terminating;
  }

  /** The room on {@code nodes} once {@code pods} (every pod of the cluster, any owner) hold what they request. */
  public static ClusterRoom of(List<Node> nodes, List<Pod> pods) {
    Map<String, ResourceList> free = new LinkedHashMap<>();
    Map<String, ResourceList> wholeNodes = new HashMap<>();
    Map<String, Map<String, String>> labels = new LinkedHashMap<>();
    Map<String, List<Taint>> taints = new LinkedHashMap<>();
    for (Node node : nodes.stream().sorted(Comparator.comparing(n -> n.getMetadata().getName())).toList()) {
      ResourceList allocatable = allocatable(node);
      boolean usable = allocatable.gpus() > 0 && usable(node);
      // A node that is back counts its capacity's GPUs; a ready one that lost some (marked unhealthy) does not.
      int capacity = usable ? 0 : ResourceList.of(node.getStatus() == null ? null : node.getStatus().getCapacity()).gpus();
      ResourceList atMost = capacity > allocatable.gpus() ? allocatable.plus(ResourceList.gpus(capacity - allocatable.gpus()))
          : allocatable;
      if (atMost.gpus() == 0) {
        continue;
      }
      String name = node.getMetadata().getName();
      wholeNodes.put(name, atMost);
      labels.put(name, node.getMetadata().getLabels() == null ? Map.of() : node.getMetadata().getLabels());
      taints.put(name, node.getSpec() == null || node.getSpec().getTaints() == null ? List.of() : node.getSpec().getTaints());
      if (usable) {
        free.put(name, allocatable);
      }
    }
    Map<String, Integer> terminating = new HashMap<>();
    for (Pod pod : pods) {
      String node = pod.getSpec() == null ? null : pod.getSpec().getNodeName();
      if (node != null && free.containsKey(node) && !terminal(pod)) {
        ResourceList requested = ResourceList.requestedBy(pod);
        free.computeIfPresent(node, (n, f) -> f.minus(requested));
        if (pod.getMetadata().getDeletionTimestamp() != null && requested.gpus() > 0) {
          terminating.merge(node, requested.gpus(), Integer::sum);
        }
      }
    }
    return new ClusterRoom(free, Map.copyOf(wholeNodes), new ConcurrentHashMap<>(), labels, taints, terminating,
        new LinkedHashMap<>(), new LinkedHashMap<>(), new HashMap<>());
  }

  public ClusterRoom copy() {
    return new ClusterRoom(new LinkedHashMap<>(free), wholeNodes, neverFits, labels, taints, terminating,
        deepCopy(setAside), deepCopy(owed), new HashMap<>(victimsOf));
  }

  private static Map<String, Map<String, ResourceList>> deepCopy(Map<String, Map<String, ResourceList>> byJob) {
    Map<String, Map<String, ResourceList>> copy = new LinkedHashMap<>();
    byJob.forEach((job, byNode) -> copy.put(job, new LinkedHashMap<>(byNode)));
    return copy;
  }

  /** GPUs that pods being deleted still hold on nodes the gang could use: room once those pods have stopped. */
  public int terminating(Gang gang) {
    return terminating.entrySet().stream().filter(e -> matches(e.getKey(), gang)).mapToInt(Map.Entry::getValue).sum();
  }

  /** Places every pod of the gang, or none: true when it fit (and now holds its resources here). */
  public boolean place(Gang gang) {
    return placement(gang) != null;
  }

  /**
   * Places every pod of the gang, or none: the node of each pod (rank order), now holding what it
   * requests here; null when it does not fit. CPU gangs are not planned: an empty placement.
   */
  public List<String> placement(Gang gang) {
    if (gang.gpusPerPod() == 0) {
      return List.of();  // CPU pods run on CPU nodes, which admission does not plan
    }
    if (unplaceable.contains(gang)) {
      return null;
    }
    List<String> chosen = choose(gang);
    if (chosen.size() < gang.pods()) {
      unplaceable.add(gang);
      return null;
    }
    take(chosen, gang.perPod());
    return chosen;
  }

  /** Holds what a pod requests on the node it was planned on (admitted, not yet bound there). */
  public void hold(String node, ResourceList perPod) {
    take(List.of(node), perPod);
  }

  /**
   * Holds what a pod pinned to the node labelled with {@code hostname} requests (released, not yet
   * bound); returns that node's name, or null when no node has the label.
   */
  public String holdOnHostname(String hostname, ResourceList requested) {
    var node = labels.entrySet().stream().filter(e -> free.containsKey(e.getKey()) && hostname.equals(
        e.getValue().getOrDefault(StageJobManifest.HOSTNAME_LABEL, e.getKey()))).findFirst().map(Map.Entry::getKey);
    node.ifPresent(name -> take(List.of(name), requested));
    return node.orElse(null);
  }

  /** Places as many of the gang's pods as fit: what a waiting gang holds back from those behind it. */
  public void reserve(Gang gang) {
    if (gang.pods() > 0) {
      take(choose(gang), gang.perPod());
    }
  }

  /**
   * Holds for {@code job} as much of {@code upTo} as is free on the node, which nobody else may take
   * meanwhile; the rest is owed to it: room one of its {@code victims} gives back there
   * ({@link #release}) goes to it first.
   */
  public void setAside(String job, String node, ResourceList upTo, Set<String> victims) {
    ResourceList available = free.get(node);
    if (available == null) {
      return;
    }
    victimsOf.put(job, victims);
    ResourceList held = upTo.within(available);
    take(List.of(node), held);
    setAside.computeIfAbsent(job, k -> new LinkedHashMap<>()).merge(node, held, ResourceList::plus);
    ResourceList rest = upTo.minus(held);
    if (!nothing(rest)) {
      owed.computeIfAbsent(job, k -> new LinkedHashMap<>()).merge(node, rest, ResourceList::plus);
    }
  }

  /**
   * Gives {@code job} the room set aside for it, now that it is being planned: what was held is
   * free again and what was owed to it is owed no more. Returns all of it (by node) to put back if unused.
   */
  public Map<String, ResourceList> takeSetAside(String job) {
    Map<String, ResourceList> held = setAside.remove(job);
    Map<String, ResourceList> owedToIt = owed.remove(job);
    Map<String, ResourceList> all = new LinkedHashMap<>();
    if (held != null) {
      held.forEach((node, resources) -> {
        give(node, resources);
        all.merge(node, resources, ResourceList::plus);
      });
    }
    if (owedToIt != null) {
      owedToIt.forEach((node, resources) -> all.merge(node, resources, ResourceList::plus));
    }
    return all;
  }

  /** Sets room given by {@link #takeSetAside} aside for the job again: it was not admitted. */
  public void putBack(String job, Map<String, ResourceList> taken) {
    taken.forEach((node, resources) -> setAside(job, node, resources, victimsOf.getOrDefault(job, Set.of())));
  }

  /** The attempts (namespace/Job) stopping for the job, as its room was last set aside. */
  public Set<String> victimsOf(String job) {
    return victimsOf.getOrDefault(job, Set.of());
  }

  /** Whether room is set aside for the job, or owed to it: it stopped stages to run there. */
  public boolean keptFor(String job) {
    return setAside.containsKey(job) || owed.containsKey(job);
  }

  /** GPUs set aside on nodes the gang could use, by the job they are kept for. */
  public Map<String, Integer> setAsideFrom(Gang gang) {
    Map<String, Integer> gpus = new TreeMap<>();
    setAside.forEach((job, byNode) -> byNode.forEach((node, held) -> {
      if (held.gpus() > 0 && matches(node, gang)) {
        gpus.merge(job, held.gpus(), Integer::sum);
      }
    }));
    return gpus;
  }

  /**
   * Gives back what the pods of {@code attempt} (namespace/Job, the Job perhaps gone already) held
   * on a node, as a plan does for a stage about to stop: first to the jobs it is a victim of, as
   * far as room there is owed to them ({@link #setAside}), the rest free.
   */
  public void release(String node, ResourceList held, String attempt) {
    ResourceList rest = held;
    for (Map.Entry<String, Map<String, ResourceList>> job : owed.entrySet()) {
      ResourceList due = job.getValue().get(node);
      if (due == null || nothing(rest) || !victimsOf.getOrDefault(job.getKey(), Set.of()).contains(attempt)) {
        continue;
      }
      ResourceList paid = due.within(rest);
      job.getValue().put(node, due.minus(paid));
      setAside.computeIfAbsent(job.getKey(), k -> new LinkedHashMap<>()).merge(node, paid, ResourceList::plus);
      rest = rest.minus(paid);
    }
    give(node, rest);
  }

  private void give(String node, ResourceList resources) {
    changes++;
    free.computeIfPresent(node, (n, f) -> f.plus(resources));
    unplaceable.clear();
    freeFor.clear();
  }

  private static boolean nothing(ResourceList resources) {
    return resources.milli().values().stream().allMatch(amount -> amount <= 0);
  }

  /** Whether the gang's pods may run on the node at all (its labels, taints and usability), room aside. */
  public boolean usableBy(String node, Gang gang) {
    return free.containsKey(node) && matches(node, gang);
  }

  /** Whether some node may take pods of both gangs (their labels, taints and its usability), room aside. */
  public boolean shareANode(Gang one, Gang other) {
    return free.keySet().stream().anyMatch(node -> matches(node, one) && matches(node, other));
  }

  /** Free GPUs on the nodes a gang could use. */
  public int free(Gang gang) {
    return freeFor.computeIfAbsent(gang, g -> free.entrySet().stream().filter(e -> matches(e.getKey(), g))
        .mapToInt(e -> Math.max(0, e.getValue().gpus())).sum());
  }

  /**
   * Why nodes with the gang's GPUs free still take none of its pods, or "" when none such lacks
   * anything: "2 nodes with 8 GPUs free lack cpu (a pod requests 48 cpu)".
   */
  public String shortage(Gang gang) {
    return shortage(gang, false);
  }

  /**
   * Why the gang cannot start on the cluster's GPU nodes even were no pod running on them and every
   * one of them ready and schedulable, or "" when it could: "only 2 of the 4 GPU nodes it may use
   * can take a pod of 8 GPUs; it has 3 pods: 2 nodes with 8 GPUs lack cpu (a pod requests 200
   * cpu)". No wait frees room for it; only other nodes, or a smaller ask, do. The taints nodes
   * get while not ready, unreachable, cordoned or under pressure ({@code node.kubernetes.io/}), or
   * shut down or not yet initialised by their cloud, do not count here: they go when the node is back.
   */
  public String neverFits(Gang gang) {
    return neverFits.computeIfAbsent(gang, g -> {
      if (g.gpusPerPod() == 0 || g.pods() == 0 || choose(g, true).size() >= g.pods()) {
        return "";
      }
      List<String> anywhere = choose(g.withoutTopology(), true);
      if (anywhere.size() >= g.pods()) {
        return shortage(g, true);  // its required topology domain is what is too small
      }
      long mayUse = wholeNodes.keySet().stream().filter(node -> matches(node, g, true)).count();
      if (mayUse == 0) {
        return wholeNodes.isEmpty() ? "the cluster has no GPU node"
            : "no GPU node has the labels it selects (gpuProduct, nodeSelector) and only taints it tolerates";
      }
      String lacking = shortage(g.withoutTopology(), true);
      String aPod = " take a pod of " + gpus(g.gpusPerPod());
      String fewer;
      if (anywhere.size() == mayUse) {
        fewer = (mayUse == 1 ? "the one GPU node it may use takes one pod" : "the " + mayUse
            + " GPU nodes it may use take one pod each") + "; it has " + g.pods() + " pods";
      } else if (anywhere.isEmpty()) {
        fewer = (mayUse == 1 ? "the one GPU node it may use cannot" : "none of the " + mayUse + " GPU nodes it may use can")
            + aPod;
      } else {
        fewer = "only " + anywhere.size() + " of the " + mayUse + " GPU nodes it may use can" + aPod + "; it has "
            + g.pods() + " pods";
      }
      return fewer + (lacking.isEmpty() ? "" : ": " + lacking);
    });
  }

  /** As {@link #shortage(Gang)}; {@code whole}: on every GPU node with all it has, as {@link #neverFits}. */
  private String shortage(Gang gang, boolean whole) {
    Map<String, Integer> lacking = new TreeMap<>();
    for (Map.Entry<String, ResourceList> node : (whole ? wholeNodes : free).entrySet()) {
      if (node.getValue().gpus() >= gang.gpusPerPod() && matches(node.getKey(), gang, whole)) {
        String missing = gang.perPod().shortOf(node.getValue());
        if (missing != null) {
          lacking.merge(missing, 1, Integer::sum);
        }
      }
    }
    List<String> reasons = new ArrayList<>(lacking.entrySet().stream().map(e -> e.getValue()
        + (e.getValue() == 1 ? " node" : " nodes") + " with " + gpus(gang.gpusPerPod()) + (whole ? " " : " free ")
        + (e.getValue() == 1 ? "lacks " : "lack ") + e.getKey() + " (a pod requests " + gang.perPod().describe(e.getKey())
        + ")").toList());
    if (gang.topology() != null && gang.topology().required() != null) {
      List<String> chosen = choose(gang, whole);
      if (chosen.size() < gang.pods() && choose(gang.withoutTopology(), whole).size() >= gang.pods()) {
        reasons.add("no " + gang.topology().required() + " domain has " + gang.pods() + " nodes with room for a pod"
            + (chosen.isEmpty() ? "" : " (most: " + chosen.size() + ", in " + gang.topology().required() + "="
            + labels.get(chosen.getFirst()).get(gang.topology().required()) + ")"));
      }
    }
    return String.join("; ", reasons);
  }

  /** How many times room was taken or given back so far. */
  public long changes() {
    return changes;
  }

  private void take(List<String> nodes, ResourceList perPod) {
    changes++;
    if (!nodes.isEmpty()) {
      nodes.forEach(node -> free.computeIfPresent(node, (n, f) -> f.minus(perPod)));
      freeFor.clear();
    }
  }

  /**
   * Up to {@code gang.pods()} distinct nodes that fit one pod each, fewest free GPUs first; with a
   * topology, from the one domain (value of its label) that holds them all and has the fewest
   * such nodes (best fit, as Kueue's topology-aware scheduling), else from the largest domains
   * first and then nodes outside any (preferred), or from the largest domain alone (required: a
   * placement that falls short).
   */
  private List<String> choose(Gang gang) {
    return choose(gang, false);
  }

  /** As {@link #choose(Gang)}; {@code whole}: on every GPU node with all it has, as {@link #neverFits}. */
  private List<String> choose(Gang gang, boolean whole) {
    if (gang.gpusPerPod() == 0 || gang.pods() == 0) {
      return List.of();
    }
    Map<String, ResourceList> room = whole ? wholeNodes : free;
    List<String> fitting = new ArrayList<>();
    for (Map.Entry<String, ResourceList> node : room.entrySet()) {
      if (gang.perPod().shortOf(node.getValue()) == null && matches(node.getKey(), gang, whole)) {
        fitting.add(node.getKey());
      }
    }
    fitting.sort(Comparator.<String>comparingLong(node -> room.get(node).get(GPU)).thenComparing(Comparator.naturalOrder()));
    if (gang.topology() == null) {
      return fitting.stream().limit(gang.pods()).toList();
    }
    List<List<String>> domains = domains(fitting, gang.topology().key());
    for (List<String> domain : domains.reversed()) {  // smallest first
      if (domain.size() >= gang.pods()) {
        return domain.subList(0, gang.pods());
      }
    }
    if (gang.topology().required() != null) {
      return domains.isEmpty() ? List.of() : domains.getFirst();
    }
    // Preferred: the largest domains first, then nodes outside any.
    List<String> ordered = new ArrayList<>(domains.stream().flatMap(List::stream).toList());
    fitting.stream().filter(node -> !labels.get(node).containsKey(gang.topology().key())).forEach(ordered::add);
    return ordered.stream().limit(gang.pods()).toList();
  }

  /** The nodes grouped by their value of {@code key} (nodes without it left out), the largest group first. */
  private List<List<String>> domains(List<String> nodes, String key) {
    Map<String, List<String>> byValue = new TreeMap<>();
    for (String node : nodes) {
      String value = labels.get(node).get(key);
      if (value != null) {
        byValue.computeIfAbsent(value, v -> new ArrayList<>()).add(node);
      }
    }
    List<List<String>> domains = new ArrayList<>(byValue.values());
    domains.sort(Comparator.<List<String>>comparingInt(List::size).reversed());
    return domains;
  }

  private boolean matches(String node, Gang gang) {
    return matches(node, gang, false);
  }

  /** As {@link #matches(String, Gang)}; {@code whole}: the taints of a node's passing conditions left out. */
  private boolean matches(String node, Gang gang, boolean whole) {
    Map<String, String> nodeLabels = labels.get(node);
    if (gang.product() != null && !Objects.equals(nodeLabels.get(PRODUCT_LABEL), gang.product())) {
      return false;
    }
    if (!gang.nodeSelector().entrySet().stream().allMatch(e -> e.getValue().equals(nodeLabels.get(e.getKey())))) {
      return false;
    }
    // The pod tolerates the GPU taint with effect NoSchedule only: a NoExecute one keeps it off the node.
    return taints.get(node).stream().allMatch(taint -> "PreferNoSchedule".equals(taint.getEffect())
        || whole && taint.getKey() != null && (taint.getKey().startsWith(CONDITION_TAINTS)
            || CLOUD_CONDITION_TAINTS.contains(taint.getKey()))
        || Tolerations.tolerates(GPU_TOLERATION, taint)
        || gang.tolerations().stream().anyMatch(toleration -> Tolerations.tolerates(toleration, taint)));
  }

  /** "1 GPU", "8 GPUs". */
  private static String gpus(int count) {
    return count + (count == 1 ? " GPU" : " GPUs");
  }

  static ResourceList allocatable(Node node) {
    return ResourceList.of(node.getStatus() == null ? null : node.getStatus().getAllocatable());
  }

  /** Ready (or not reporting) and schedulable; whose taints a gang tolerates is {@link #matches}' to say. */
  static boolean usable(Node node) {
    if (node.getSpec() != null && Boolean.TRUE.equals(node.getSpec().getUnschedulable())) {
      return false;
    }
    List<NodeCondition> conditions = node.getStatus() == null || node.getStatus().getConditions() == null ? List.of()
        : node.getStatus().getConditions();
    return conditions.stream().filter(c -> "Ready".equals(c.getType())).allMatch(c -> "True".equals(c.getStatus()));
  }

  /** The pod has stopped for good (Succeeded or Failed): it holds no GPU and writes nothing. */
  public static boolean terminal(Pod pod) {
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    return "Succeeded".equals(phase) || "Failed".equals(phase);
  }
}
