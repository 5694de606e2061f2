package dev.kiln.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.runconfig.TrainerProgress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Rank 0's endpoint as the operator and Prometheus read it. */
class ProgressServerTest {

  static final Pattern SAMPLE = Pattern.compile("^[a-z_]+\\{stage=\"[a-z0-9-]+\"} [-+0-9.eE]+(NaN)?$");

  @Test
  void servesProgressAsJsonAndMetricsAsPrometheusText() throws Exception {
    try (ProgressServer server = ProgressServer.start("127.0.0.1", 0, "pretrain", 3)) {
      HttpClient http = HttpClient.newHttpClient();
      TrainerProgress before = new ObjectMapper().readValue(get(http, server, TrainerProgress.PATH).body(),
          TrainerProgress.class);
      assertThat(before.step()).isZero();
      assertThat(before.etaSeconds()).as("no pace before the first step").isNull();

      server.step(new StepMetrics(1, 100, 2.5, 1e-3, 1.0, 4096, 8000, 0.1, 0.5, null, null));
      server.step(new StepMetrics(2, 100, 2.25, 1e-3, 1.0, 8192, 8000, 0.1, 1.5, null, null));
      server.checkpointed(0.75);

      TrainerProgress after = new ObjectMapper().readValue(get(http, server, TrainerProgress.PATH).body(),
          TrainerProgress.class);
      assertThat(after).isEqualTo(new TrainerProgress("pretrain", 3, 2, 100, 8192, 2.25, 8000.0, 0.6));
      assertThat(after.etaSeconds()).isEqualTo(59);  // 98 steps at the recent 0.6 s

      HttpResponse<String> metrics = get(http, server, "/metrics");
      assertThat(metrics.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4");
      List<String> lines = metrics.body().lines().toList();
      assertThat(lines).contains("kiln_trainer_step{stage=\"pretrain\"} 2.0", "kiln_trainer_tokens_total{stage=\"pretrain\"} 8192.0",
          "kiln_trainer_checkpoint_seconds_total{stage=\"pretrain\"} 0.75", "# TYPE kiln_trainer_tokens_total counter",
          "kiln_trainer_data_wait_ratio{stage=\"pretrain\"} 0.1");
      assertThat(lines.stream().filter(l -> !l.startsWith("#"))).allMatch(l -> SAMPLE.matcher(l).matches());

      // The chart's Grafana dashboard asks only for what a trainer serves.
      String dashboard = java.nio.file.Files.readString(java.nio.file.Path.of(System.getProperty("kiln.home", ".."),
          "charts/kiln/dashboards/kiln.json"));
      java.util.Set<String> served = new java.util.TreeSet<>();
      lines.stream().filter(l -> !l.startsWith("#")).forEach(l -> served.add(l.substring(0, l.indexOf('{'))));
      java.util.Set<String> asked = new java.util.TreeSet<>();
      Pattern.compile("kiln_trainer_[a-z_]+").matcher(dashboard).results().forEach(m -> asked.add(m.group()));
      assertThat(asked).as("positive control: the dashboard has trainer panels").contains("kiln_trainer_loss");
      assertThat(served).containsAll(asked);

      HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
          + TrainerProgress.PATH)).POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(post.statusCode()).as("read-only").isEqualTo(405);
    }
  }

  private static HttpResponse<String> get(HttpClient http, ProgressServer server, String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
