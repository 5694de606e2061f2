package dev.kiln.local;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The operator as its own process: the Quarkus application built in {@code operator/}, pointed at
 * the local API server. Its log goes to {@code operator.log} in the cluster folder; it can be
 * stopped and started again (the end-to-end suite restarts it in every phase).
 */
public final class OperatorProcess implements AutoCloseable {

  /**
   * The operator's JVM: a small heap given back when idle, the serial collector (one core is
   * plenty), the client compiler only (a control loop waiting on the network needs no peak
   * compilation, and C2's code and arenas cost memory), small thread stacks. 128 MB of heap held
   * 1,000 jobs ({@code kiln bench operator}: 280 MB resident). The chart's default
   * {@code operator.javaOptions} is the same, so what the bench measures is what a cluster runs.
   * {@code KILN_OPERATOR_JAVA_OPTIONS} replaces them;
   * {@code KILN_OPERATOR_COMMAND} replaces the whole command (the operator inside its image, for
   * example), which then gets these options as the chart passes them, in JAVA_TOOL_OPTIONS.
   */
  public static final List<String> JVM_OPTIONS = List.of("-Xms32m", "-Xmx128m", "-XX:+UseSerialGC",
      "-XX:+UseStringDeduplication", "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30", "-XX:TieredStopAtLevel=1",
      "-XX:ReservedCodeCacheSize=32m", "-XX:TrimNativeHeapInterval=10000", "-Xss512k");

  /**
   * glibc's malloc arenas: by default up to 8 per core, each holding freed memory, for a process
   * whose threads mostly wait on the network; the chart sets the same.
   */
  public static final String MALLOC_ARENAS = "2";

  /** Written to the log before each start, so that what follows is that run's. */
  private static final String START_MARK = "--- operator start";
  private static final Pattern LISTENING_PORT = Pattern.compile("Listening on: http://[^:]+:(\\d+)");
  private static final Pattern LEASE_IDENTITY = Pattern.compile("leader election on: Lease \\S+, identity (\\S+)");

  /** How the operator's requests are told apart at the API server (as in a cluster's audit log). */
  public static final String USER_AGENT = "kiln-operator";

  private final Path jar;
  private final String userAgent;
  private final String apiServerUrl;
  private final Path log;
  private final Map<String, String> settings;
  private Process process;
  private int starts;
  private boolean closed;

  OperatorProcess(Path jar, String userAgent, String apiServerUrl, Path log, Map<String, String> settings) {
    this.jar = jar;
    this.userAgent = userAgent;
    this.apiServerUrl = apiServerUrl;
    this.log = log;
    this.settings = settings;
  }

  public synchronized void start() {
    if (closed || (process != null && process.isAlive())) {
      return;
    }
    Optional<List<String>> custom = words(System.getenv("KILN_OPERATOR_COMMAND"));
    if (custom.isEmpty() && !Files.isRegularFile(jar)) {
      throw new IllegalStateException("the operator is not built: " + jar + " is missing (run ./build)");
    }
    List<String> jvmOptions = words(System.getenv("KILN_OPERATOR_JAVA_OPTIONS")).orElse(JVM_OPTIONS);
    List<String> command = new ArrayList<>();
    custom.ifPresentOrElse(command::addAll, () -> {
      command.add(javaBinary());
      command.addAll(jvmOptions);
      command.addAll(List.of("-jar", jar.toString()));
    });
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    Map<String, String> env = builder.environment();
    if (custom.isPresent()) {
      env.put("JAVA_TOOL_OPTIONS", String.join(" ", jvmOptions));  // as the chart passes them
    }
    env.put("MALLOC_ARENA_MAX", MALLOC_ARENAS);
    // Fabric8's own settings: the operator's client reads them as it would a cluster's.
    env.put("KUBERNETES_MASTER", apiServerUrl);
    env.put("KUBERNETES_AUTH_TRYSERVICEACCOUNT", "false");
    env.put("KUBERNETES_USER_AGENT", userAgent);
    env.put("QUARKUS_HTTP_PORT", "0");
    // Never pick up the user's real cluster credentials.
    env.put("KUBECONFIG", log.resolveSibling("no-kubeconfig").toString());
    // One machine, a handful of jobs: progress may reach status more often than a cluster's default.
    env.put("KILN_OPERATOR_PROGRESS_INTERVAL_SECONDS", "5");
    // One operator needs no Lease; a cluster with replicas turns election on in its settings.
    env.put("KILN_OPERATOR_LEADER_ELECTION_ENABLED", "false");
    env.putAll(settings);
    try {
      Files.writeString(log, START_MARK + " " + (++starts) + "\n", StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
      process = builder.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the operator " + jar, e);
    }
  }

  /** Stops the operator: gracefully (SIGTERM, as a Deployment rollout does) or killed outright. */
  public synchronized void stop(boolean kill) {
    if (process == null) {
      return;
    }
    if (kill) {
      process.destroyForcibly();
    } else {
      process.destroy();
    }
    try {
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    process = null;
  }

  public synchronized void restart(boolean kill) {
    stop(kill);
    start();
  }

  public synchronized boolean alive() {
    return process != null && process.isAlive();
  }

  /** The operator's process id, while it runs. */
  public synchronized long pid() {
    if (process == null || !process.isAlive()) {
      throw new IllegalStateException("the operator is not running");
    }
    return process.pid();
  }

  /** The identity it holds the leader Lease under, as it logged it at its latest start; empty when election is off. */
  public Optional<String> leaseIdentity() {
    return latestStartLogged(LEASE_IDENTITY);
  }

  /**
   * Where its HTTP endpoints (health, metrics) listen since its latest start, as Quarkus logs it;
   * empty until it has started.
   */
  public Optional<URI> httpAddress() {
    return latestStartLogged(LISTENING_PORT).map(port -> URI.create("http://127.0.0.1:" + port));
  }

  /** The first group of {@code pattern} in what it logged since its latest start. */
  private Optional<String> latestStartLogged(Pattern pattern) {
    try {
      String text = Files.readString(log);
      int latest = text.lastIndexOf(START_MARK);
      Matcher found = pattern.matcher(latest < 0 ? "" : text.substring(latest));
      return found.find() ? Optional.of(found.group(1)) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** The User-Agent of its requests to the API server. */
  public String userAgent() {
    return userAgent;
  }

  public Path log() {
    return log;
  }

  /** Stops it for good: a later {@link #start} (a watchdog that saw it stop) does nothing. */
  @Override
  public synchronized void close() {
    closed = true;
    stop(false);
  }

  private static Optional<List<String>> words(String setting) {
    return setting == null || setting.isBlank() ? Optional.empty() : Optional.of(List.of(setting.trim().split("\\s+")));
  }

  static String javaBinary() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }
}
