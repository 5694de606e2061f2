package dev.kiln.operator.lifecycle;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.runconfig.TrainerProgress;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;

/**
 * Reads {@code GET http://<pod IP>:<metrics port>/progress}, the way Prometheus scrapes a pod:
 * the trainer holds no credential and cannot write anything, and the operator needs only to
 * reach pod IPs (allow it in a NetworkPolicy). A short timeout keeps a hung pod from holding a
 * reconcile.
 */
public final class HttpProgressReader implements ProgressReader {

  static final Duration TIMEOUT = Duration.ofSeconds(2);
  private static final ObjectMapper JSON = new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();

  @Override
  public Optional<TrainerProgress> read(Pod rankZero) {
    String ip = rankZero.getStatus() == null ? null : rankZero.getStatus().getPodIP();
    if (ip == null || ip.isBlank()) {
      return Optional.empty();
    }
    int port = rankZero.getSpec().getContainers().stream()
        .flatMap(c -> c.getPorts() == null ? java.util.stream.Stream.<ContainerPort>empty() : c.getPorts().stream())
        .filter(p -> "metrics".equals(p.getName()))
        .map(ContainerPort::getContainerPort)
        .findFirst().orElse(TrainerProgress.DEFAULT_PORT);
    String host = ip.contains(":") ? "[" + ip + "]" : ip;
    try {
      HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://" + host + ":" + port
          + TrainerProgress.PATH)).timeout(TIMEOUT).GET().build(), HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() != 200) {
        return Optional.empty();
      }
      return Optional.of(JSON.readValue(response.body(), TrainerProgress.class));
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }
}
