package dev.kiln.images.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.marcnuri.helm.Helm;
import dev.kiln.images.Layer;
import dev.kiln.images.OciImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kiln's publish command against a real registry on loopback: two small images (sharing their first
 * layer, as Kiln's do) and the real chart pushed, then read back over the registry's HTTP API and with
 * Helm: every manifest byte for byte the archive's, every layer there, the chart the same chart.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class PublisherTest {

  private static final Path CHART = Path.of(System.getProperty("kiln.root", "..")).resolve("charts/kiln");
  private static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path folder;

  private final HttpClient http = HttpClient.newHttpClient();

  @Test
  void pushesImagesAndChartThatPullBackWithTheArchivesDigests() throws Exception {
    Path images = folder.resolve("images");
    Layer.Blob os = new Layer("os").addFile("/etc/os-release", "ID=kiln-test\n".getBytes(StandardCharsets.UTF_8), 0644)
        .write(folder.resolve("layers"));
    Map<String, String> digests = new LinkedHashMap<>();
    digests.put("kiln-operator:1.2.3", image(images, "kiln-operator:1.2.3", os));
    digests.put("kiln-trainer:1.2.3-cuda", image(images, "kiln-trainer:1.2.3-cuda", os));
    assertThat(skopeoOnPath()).as("no skopeo on PATH: .ci/run installs Debian's skopeo package (apt-get install skopeo)")
        .isTrue();

    try (LocalRegistry registry = LocalRegistry.start(folder.resolve("registry"))) {
      String target = registry.address() + "/ml";
      long start = System.nanoTime();
      int exit = Publisher.commandLine().execute(target, "--plain-http", "--images", images.toString(),
          "--chart", CHART.toString());
      long pushed = System.nanoTime();
      assertThat(exit).as("publish exit status; registry log:\n%s", registry.log()).isZero();

      for (Map.Entry<String, String> image : digests.entrySet()) {
        String[] nameAndTag = image.getKey().split(":");
        HttpResponse<byte[]> manifest = get(registry, "/v2/ml/" + nameAndTag[0] + "/manifests/" + nameAndTag[1], OCI_MANIFEST);
        assertThat(manifest.statusCode()).as(image.getKey()).isEqualTo(200);
        assertThat(manifest.headers().firstValue("Docker-Content-Digest")).as(image.getKey()).hasValue(image.getValue());
        assertThat(sha256(manifest.body())).as(image.getKey()).isEqualTo(image.getValue());
        JsonNode parsed = JSON.readTree(manifest.body());
        List<String> blobs = new ArrayList<>(List.of(parsed.at("/config/digest").asText()));
        parsed.path("layers").forEach(layer -> blobs.add(layer.path("digest").asText()));
        for (String blob : blobs) {
          HttpResponse<byte[]> content = get(registry, "/v2/ml/" + nameAndTag[0] + "/blobs/" + blob, "*/*");
          assertThat(content.statusCode()).as("%s blob %s", image.getKey(), blob).isEqualTo(200);
          assertThat(sha256(content.body())).isEqualTo(blob);
        }
      }

      String local = new Helm(CHART).show().chart().call();
      String version = local.lines().filter(l -> l.startsWith("version:")).findFirst().orElseThrow().substring(8).strip();
      String remote = Helm.show("oci://" + target + "/kiln").chart().withVersion(version).plainHttp().call();
      assertThat(remote).isEqualTo(local);
      HttpResponse<byte[]> chart = get(registry, "/v2/ml/kiln/manifests/" + version, OCI_MANIFEST);
      assertThat(chart.statusCode()).isEqualTo(200);
      assertThat(JSON.readTree(chart.body()).at("/config/mediaType").asText())
          .isEqualTo("application/vnd.cncf.helm.config.v1+json");
      long pulled = System.nanoTime();
      System.out.printf("publish: pushed %d images and the chart (%s) in %d ms, read back in %d ms%n", digests.size(),
          version, (pushed - start) / 1_000_000, (pulled - pushed) / 1_000_000);
    }
  }

  @Test
  void failsWithoutImageArchivesSayingWhatWritesThem() throws IOException {
    Files.createDirectories(folder.resolve("empty"));
    StringWriter err = new StringWriter();
    int exit = Publisher.commandLine().setErr(new PrintWriter(err)).execute("127.0.0.1:1/ml", "--plain-http", "--images",
        folder.resolve("empty").toString(), "--chart", CHART.toString());
    assertThat(exit).isEqualTo(1);
    assertThat(err.toString()).contains("no image archives in", "./build images").doesNotContain("\tat ");
  }

  @Test
  void failsWithoutSkopeoNamingThePackage() throws IOException {
    Layer.Blob os = new Layer("os").addFile("/etc/os-release", new byte[0], 0644).write(folder.resolve("layers"));
    image(folder.resolve("images"), "kiln-operator:1.2.3", os);
    StringWriter err = new StringWriter();
    int exit = Publisher.commandLine().setErr(new PrintWriter(err)).execute("127.0.0.1:1/ml", "--images",
        folder.resolve("images").toString(), "--skopeo", folder.resolve("no-skopeo").toString());
    assertThat(exit).isEqualTo(1);
    assertThat(err.toString()).contains("apt-get install skopeo");
  }

  /** Writes a one-image archive the way ImageBuilder does; returns its manifest's digest. */
  private String image(Path images, String nameAndTag, Layer.Blob os) throws IOException {
    Layer.Blob app = new Layer(nameAndTag.replace(':', '-')).addFile("/opt/kiln/app.txt", nameAndTag.getBytes(StandardCharsets.UTF_8), 0644)
        .write(folder.resolve("layers"));
    OciImage image = new OciImage("ghcr.io/kiln-dev/" + nameAndTag, List.of(os, app), List.of("/bin/true"),
        Map.of("LANG", "C.UTF-8"), Map.of("org.opencontainers.image.version", "1.2.3"), "65532:65532", "/");
    return image.writeTo(images.resolve(nameAndTag.replace(':', '-') + ".tar"));
  }

  private HttpResponse<byte[]> get(LocalRegistry registry, String path, String accept) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(URI.create("http://" + registry.address() + path)).header("Accept", accept).build(),
        HttpResponse.BodyHandlers.ofByteArray());
  }

  private static boolean skopeoOnPath() {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "skopeo"))) {
        return true;
      }
    }
    return false;
  }

  private static String sha256(byte[] bytes) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      return fail("no SHA-256", e);
    }
  }
}
