package dev.kiln.trainer.loop;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.kiln.api.runconfig.TrainerProgress;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.Executors;

/**
 * Rank 0's small read-only HTTP endpoint on the metrics port, the way Prometheus scrapes a pod:
 * {@code GET /progress} (JSON, read by the operator into the job's status) and
 * {@code GET /metrics} (Prometheus text: step, loss, tokens, tokens/s, data wait, checkpoint
 * seconds). It takes no input and holds no credential; a port already taken is logged, never a
 * reason to stop training.
 */
public final class ProgressServer implements AutoCloseable {

  /** Weight of the newest step in the mean seconds per step: about the last 20 steps count. */
  static final double PACE_WEIGHT = 0.1;

  private static final ObjectMapper JSON = new ObjectMapper();

  private final HttpServer server;
  private final String stage;
  private final Integer attempt;
  private volatile StepMetrics last;
  private volatile Double secondsPerStep;
  private volatile double checkpointSeconds;
  private volatile long checkpoints;

  private ProgressServer(HttpServer server, String stage, Integer attempt) {
    this.server = server;
    this.stage = stage;
    this.attempt = attempt;
  }

  /** Serves on {@code address} (the pod IP; all addresses when null) and {@code port}. */
  public static ProgressServer start(String address, int port, String stage, Integer attempt) throws IOException {
    InetSocketAddress bind = address == null || address.isBlank() ? new InetSocketAddress(port)
        : new InetSocketAddress(address, port);
    HttpServer http = HttpServer.create(bind, 8);
    ProgressServer progress = new ProgressServer(http, stage, attempt);
    http.createContext(TrainerProgress.PATH, exchange -> progress.answer(exchange, "application/json",
        JSON.writeValueAsString(progress.progress())));
    http.createContext("/metrics", exchange -> progress.answer(exchange, "text/plain; version=0.0.4", progress.metrics()));
    http.setExecutor(Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon().name("progress-http").unstarted(r)));
    http.start();
    return progress;
  }

  /** The actual port (for a server started on port 0). */
  public int port() {
    return server.getAddress().getPort();
  }

  public void step(StepMetrics metrics) {
    last = metrics;
    Double pace = secondsPerStep;
    secondsPerStep = pace == null ? metrics.seconds() : pace + PACE_WEIGHT * (metrics.seconds() - pace);
  }

  public void checkpointed(double seconds) {
    checkpointSeconds += seconds;
    checkpoints++;
  }

  TrainerProgress progress() {
    StepMetrics m = last;
    if (m == null) {
      return new TrainerProgress(stage, attempt, 0, 0, 0, null, null, null);
    }
    return new TrainerProgress(stage, attempt, m.step(), m.totalSteps(), m.tokens(), m.loss(), m.tokensPerSecond(),
        secondsPerStep);
  }

  String metrics() {
    StepMetrics m = last;
    String labels = "{stage=\"" + stage + "\"}";
    StringBuilder out = new StringBuilder();
    gauge(out, "kiln_trainer_step", "Optimizer steps done.", labels, m == null ? 0 : m.step());
    gauge(out, "kiln_trainer_steps_total_planned", "Optimizer steps in the stage's budget.", labels,
        m == null ? 0 : m.totalSteps());
    counter(out, "kiln_trainer_tokens_total", "Tokens trained on (padding excluded).", labels, m == null ? 0 : m.tokens());
    if (m != null) {
      gauge(out, "kiln_trainer_loss", "Loss of the newest step.", labels, m.loss());
      gauge(out, "kiln_trainer_tokens_per_second", "Throughput of the newest step.", labels, m.tokensPerSecond());
      gauge(out, "kiln_trainer_data_wait_ratio", "Share of the newest step spent waiting for data.", labels,
          m.dataWaitFraction());
    }
    counter(out, "kiln_trainer_checkpoint_seconds_total", "Seconds spent writing checkpoints.", labels, checkpointSeconds);
    counter(out, "kiln_trainer_checkpoints_total", "Checkpoints written.", labels, checkpoints);
    return out.toString();
  }

  private static void gauge(StringBuilder out, String name, String help, String labels, double value) {
    sample(out, name, "gauge", help, labels, value);
  }

  private static void counter(StringBuilder out, String name, String help, String labels, double value) {
    sample(out, name, "counter", help, labels, value);
  }

  private static void sample(StringBuilder out, String name, String type, String help, String labels, double value) {
    out.append("# HELP ").append(name).append(' ').append(help).append('\n')
        .append("# TYPE ").append(name).append(' ').append(type).append('\n')
        .append(name).append(labels).append(' ').append(String.format(Locale.ROOT, "%s", value)).append('\n');
  }

  private void answer(HttpExchange exchange, String type, String body) throws IOException {
    try (exchange) {
      if (!"GET".equals(exchange.getRequestMethod())) {
        exchange.sendResponseHeaders(405, -1);
        return;
      }
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", type);
      exchange.sendResponseHeaders(200, bytes.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
