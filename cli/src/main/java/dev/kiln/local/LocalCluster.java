package dev.kiln.local;

import dev.kiln.api.Crds;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A Kubernetes cluster on this machine, for {@code kiln run} and the end-to-end suite: the
 * in-memory API server (CRUD mode) with Kiln's CRD, the operator as its own process, and a
 * {@link LocalNode} that runs pods as processes. Nothing in Kiln's operator, data jobs or
 * trainer knows it is not a real cluster.
 *
 * <p>Folder layout: {@code volumes/<namespace>/<claim>} (claims), {@code pods/<namespace>/<pod>}
 * (each pod's root and log), {@code operator.log}.
 */
public final class LocalCluster implements AutoCloseable {

  /** How the cluster is set up. */
  public record Options(Path folder, Path kilnHome, int cpuNodes, int gpuNodes, String gpuProduct, int gpusPerNode,
      Map<String, String> operatorSettings, PrintStream errors, boolean standInContainers, List<String> watchNamespaces,
      int gpuNodeCpus) {

    public static Options in(Path folder) {
      return new Options(folder, LocalCluster.kilnHome(), 1, 4, "NVIDIA-H100-80GB-HBM3", 8, Map.of(), System.err, false,
          List.of(), 96);
    }

    /**
     * The operator installed as the chart does with {@code watchNamespaces}: it runs jobs only in
     * these namespaces (created here), through a Role in each, and reads nodes, pods and Jobs cluster-wide.
     */
    public Options withWatchNamespaces(List<String> namespaces) {
      return new Options(folder, kilnHome, cpuNodes, gpuNodes, gpuProduct, gpusPerNode, operatorSettings, errors,
          standInContainers, List.copyOf(namespaces), gpuNodeCpus);
    }

    public Options withGpuProduct(String product) {
      return new Options(folder, kilnHome, cpuNodes, gpuNodes, product, gpusPerNode, operatorSettings, errors,
          standInContainers, watchNamespaces, gpuNodeCpus);
    }

    /** Several CPU nodes, for what differs when pods spread (volumes attached to one node). */
    public Options withCpuNodes(int nodes) {
      return new Options(folder, kilnHome, nodes, gpuNodes, gpuProduct, gpusPerNode, operatorSettings, errors,
          standInContainers, watchNamespaces, gpuNodeCpus);
    }

    public Options withGpuNodes(int nodes) {
      return new Options(folder, kilnHome, cpuNodes, nodes, gpuProduct, gpusPerNode, operatorSettings, errors,
          standInContainers, watchNamespaces, gpuNodeCpus);
    }

    /**
     * The cpu each GPU node offers the scheduler (96 unless set, as the common 8-GPU machines; a
     * stage asks 6 per GPU unless it says): fewer makes CPU, not GPUs, the scarce resource.
     */
    public Options withGpuNodeCpus(int cpus) {
      return new Options(folder, kilnHome, cpuNodes, gpuNodes, gpuProduct, gpusPerNode, operatorSettings, errors,
          standInContainers, watchNamespaces, cpus);
    }

    public Options withOperatorSettings(Map<String, String> settings) {
      return new Options(folder, kilnHome, cpuNodes, gpuNodes, gpuProduct, gpusPerNode, settings, errors,
          standInContainers, watchNamespaces, gpuNodeCpus);
    }

    /**
     * Pods run nothing: trainer pods hold their GPUs until stopped, data pods succeed at once
     * ({@code kiln bench operator}, which measures the operator with more jobs than this machine could train).
     */
    public Options withStandInContainers() {
      return new Options(folder, kilnHome, cpuNodes, gpuNodes, gpuProduct, gpusPerNode, operatorSettings, errors, true,
          watchNamespaces, gpuNodeCpus);
    }
  }

  public static final String NAMESPACE = "default";
  /** A CPU node: a 32-core, 128 GiB machine (the data-prep Jobs' and CPU stages' requests fit several at once). */
  static final int CPU_NODE_CPUS = 32;
  static final String CPU_NODE_MEMORY = Long.toString(128L << 30);
  /** A GPU node's memory per GPU: 128 GiB (a stage asks 32 per GPU unless it says). */
  static final long GPU_NODE_MEMORY_PER_GPU = 128L << 30;

  /** Labels the operator puts on every child (its documented contract): the kind of child and the job it serves. */
  public static final String COMPONENT_LABEL = "app.kubernetes.io/component";
  public static final String JOB_LABEL = "kiln.dev/job";
  /** The component label's value on trainer Jobs and pods. */
  public static final String TRAINER = "trainer";

  /** Held so the setting stays: the API server would log every request. */
  private static final Logger API_SERVER_LOG = Logger.getLogger("io.fabric8.mockwebserver");

  private final Options options;
  private final LocalApiServer server;
  private final ValidatingDispatcher dispatcher;
  private final KubernetesClient client;
  private final Volumes volumes;
  private final LocalNode node;
  private final OperatorProcess operator;
  private final List<OperatorProcess> replicas = new ArrayList<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  /** The bearer token of the chart's service account, which every operator process authenticates with. */
  private final String operatorToken;

  private LocalCluster(Options options) throws IOException {
    this.options = options;
    Files.createDirectories(options.folder());
    API_SERVER_LOG.setLevel(Level.WARNING);
    server = new LocalApiServer();
    dispatcher = server.dispatcher();
    client = server.admin();
    registerCrd();
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build()).create();
    // The classes a real API server creates at startup, so a pod naming one is admitted as there.
    client.scheduling().v1().priorityClasses().resource(new PriorityClassBuilder().withNewMetadata()
        .withName("system-cluster-critical").endMetadata().withValue(2_000_000_000).build()).create();
    client.scheduling().v1().priorityClasses().resource(new PriorityClassBuilder().withNewMetadata()
        .withName("system-node-critical").endMetadata().withValue(2_000_001_000).build()).create();
    // Every operator request carries the chart's service account's token and is authorized against the chart's rules.
    ChartRbac.install(client, options.watchNamespaces());
    operatorToken = dispatcher.serviceAccountToken(ChartRbac.OPERATOR_NAMESPACE, ChartRbac.SERVICE_ACCOUNT);
    addNodes();
    volumes = new Volumes(client, options.folder().resolve("volumes"));
    node = new LocalNode(client, ClusterReads.from(dispatcher), volumes, ImageCatalog.ofThisBuild(),
        options.folder().resolve("pods"), options.kilnHome().resolve(".kiln/djl-cache"), options.errors(),
        options.standInContainers());
    operator = operatorProcess(OperatorProcess.USER_AGENT, "operator.log");
  }

  /** Starts the API server, the local node and the operator. */
  public static LocalCluster start(Options options) {
    try {
      LocalCluster cluster = new LocalCluster(options);
      cluster.node.start();
      cluster.operator.start();
      return cluster;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void registerCrd() {
    for (String resource : Crds.ALL) {
      CustomResourceDefinition crd = client.apiextensions().v1().customResourceDefinitions()
          .load(new java.io.ByteArrayInputStream(Crds.yaml(resource).getBytes(java.nio.charset.StandardCharsets.UTF_8)))
          .item();
      client.resource(crd).create();
    }
  }

  private void addNodes() {
    for (int i = 0; i < options.cpuNodes(); i++) {
      String name = i == 0 ? "kiln-local-cpu" : "kiln-local-cpu-" + i;
      client.nodes().resource(node(name, Map.of(Scheduler.HOSTNAME, name), 0, CPU_NODE_CPUS, CPU_NODE_MEMORY)).create();
    }
    for (int i = 0; i < options.gpuNodes(); i++) {
      String name = "kiln-local-gpu-" + i;
      Node gpu = node(name, Map.of("kubernetes.io/hostname", name, "nvidia.com/gpu.present", "true",
          "nvidia.com/gpu.product", options.gpuProduct(), "nvidia.com/gpu.count", Integer.toString(options.gpusPerNode())),
          options.gpusPerNode(), options.gpuNodeCpus(), Long.toString(GPU_NODE_MEMORY_PER_GPU * options.gpusPerNode()));
      gpu.getSpec().setTaints(java.util.List.of(new io.fabric8.kubernetes.api.model.TaintBuilder()
          .withKey(Scheduler.GPU).withValue("present").withEffect("NoSchedule").build()));
      client.nodes().resource(gpu).create();
    }
  }

  /**
   * What a node offers the scheduler, which counts every pod's requests against it as the
   * kube-scheduler does. The local nodes' pods are processes sharing this one machine, so a node
   * declares the capacity of the machine it stands for, not this one's (a pod without a cpu limit
   * still sees this machine's cores, as its threads do).
   */
  private static Node node(String name, Map<String, String> labels, int gpus, int cpus, String memoryBytes) {
    Map<String, Quantity> capacity = new HashMap<>(Map.of("cpu", new Quantity(Integer.toString(cpus)),
        "memory", new Quantity(memoryBytes), "pods", new Quantity("110")));
    if (gpus > 0) {
      capacity.put(Scheduler.GPU, new Quantity(Integer.toString(gpus)));
    }
    return new NodeBuilder().withNewMetadata().withName(name).withLabels(labels).endMetadata()
        .withNewSpec().endSpec()
        .withNewStatus().withCapacity(capacity).withAllocatable(capacity)
          .addNewCondition().withType("Ready").withStatus("True").endCondition()
        .endStatus().build();
  }

  public KubernetesClient client() {
    return client;
  }

  public LocalNode node() {
    return node;
  }

  public OperatorProcess operator() {
    return operator;
  }

  /**
   * Starts one more operator process with the same settings (its requests tell themselves apart by
   * User-Agent {@code kiln-operator-N}, its log is {@code operator-N.log}): for leader election,
   * which the settings must turn on.
   */
  public synchronized OperatorProcess addOperatorReplica() {
    int number = replicas.size() + 2;
    OperatorProcess replica = operatorProcess(OperatorProcess.USER_AGENT + "-" + number, "operator-" + number + ".log");
    replicas.add(replica);
    replica.start();
    return replica;
  }

  private OperatorProcess operatorProcess(String userAgent, String log) {
    Map<String, String> settings = new HashMap<>();
    // Where the chart runs it, as whom, and, with watchNamespaces, the namespaces it is told.
    settings.put("KUBERNETES_AUTH_TOKEN", operatorToken);
    settings.put("KUBERNETES_NAMESPACE", ChartRbac.OPERATOR_NAMESPACE);
    settings.put("KILN_OPERATOR_LEADER_ELECTION_LEASE_NAMESPACE", ChartRbac.OPERATOR_NAMESPACE);
    if (!options.watchNamespaces().isEmpty()) {
      settings.put("QUARKUS_OPERATOR_SDK_CONTROLLERS_MULTIMODALPRETRAINJOB_NAMESPACES",
          String.join(",", options.watchNamespaces()));
    }
    settings.putAll(options.operatorSettings());
    return new OperatorProcess(options.kilnHome().resolve("operator/target/quarkus-app/quarkus-run.jar"), userAgent,
        client.getMasterUrl().toString(), options.folder().resolve(log), settings);
  }

  /**
   * Faults the API server injects from now on into the requests of the clients the schedule names
   * (see {@link ApiFaults}); close the returned faults, or inject others, to stop them.
   */
  public ApiFaults injectFaults(ApiFaults.Schedule schedule) {
    ApiFaults faults = new ApiFaults(schedule);
    dispatcher.faults(faults);
    return faults;
  }

  /**
   * From now on, {@code listener} is told of every change the API server stores, when it stores
   * it (as a real one's audit log records it), on the writer's thread: it must be quick.
   */
  public void onCommit(Consumer<ApiCommit> listener) {
    dispatcher.onCommit(listener);
  }

  /** Writes (create, update, patch, delete) the API server has taken from the client with exactly this User-Agent. */
  public long writesFrom(String agent) {
    return dispatcher.writesFrom(agent);
  }

  /** Requests the API server has answered so far for clients whose User-Agent starts with {@code agent}. */
  public long requestsFrom(String agent) {
    return dispatcher.requestsFrom(agent);
  }

  /** The same requests by what they asked, as {@code get pods} or {@code patch multimodalpretrainjobs/status}. */
  public Map<String, Long> requestsByKindFrom(String agent) {
    return dispatcher.requestsByKindFrom(agent);
  }

  public Volumes volumes() {
    return volumes;
  }

  public Path folder() {
    return options.folder();
  }

  /** Whether {@link #close} has begun: nothing in the cluster may be started again. */
  public boolean closed() {
    return closed.get();
  }

  /** Stops the operators, then every pod (see {@link LocalNode#close}), then the API server; a second call does nothing. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    replicas.forEach(OperatorProcess::close);
    operator.close();
    node.close();
    server.close();
  }

  /**
   * The Kiln checkout or installation this code runs from: {@code kiln.home} if set, else the
   * folder above {@code cli/target} where this class was loaded from.
   */
  static Path kilnHome() {
    String property = System.getProperty("kiln.home");
    if (property != null) {
      return Path.of(property).toAbsolutePath();
    }
    try {
      Path location = Path.of(LocalCluster.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      // cli/target/kiln-cli.jar or cli/target/classes
      return location.getParent().getParent().getParent().toAbsolutePath();
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }
}
