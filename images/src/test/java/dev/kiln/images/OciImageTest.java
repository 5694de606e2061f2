package dev.kiln.images;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An image written from small folders, read back the way a container runtime reads it. */
class OciImageTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path folder;

  @Test
  void writesAnOciLayoutWhoseDigestsAndDiffIdsHold() throws IOException {
    Map<String, byte[]> archive = read(build("one"));

    JsonNode index = JSON.readTree(archive.get("index.json"));
    JsonNode described = index.at("/manifests/0");
    assertThat(described.at("/annotations/io.containerd.image.name").asText()).isEqualTo("example.org/kiln-demo:1.0");
    byte[] manifestBytes = archive.get(blob(described.path("digest").asText()));
    assertThat(sha256(manifestBytes)).isEqualTo(described.path("digest").asText());
    assertThat(manifestBytes.length).isEqualTo(described.path("size").asInt());

    JsonNode manifest = JSON.readTree(manifestBytes);
    byte[] configBytes = archive.get(blob(manifest.at("/config/digest").asText()));
    assertThat(sha256(configBytes)).isEqualTo(manifest.at("/config/digest").asText());
    JsonNode config = JSON.readTree(configBytes);
    assertThat(config.at("/config/User").asText()).isEqualTo("65532:65532");
    assertThat(config.at("/config/Labels/org.opencontainers.image.revision").asText()).isEqualTo("abc123");
    assertThat(config.at("/config/Entrypoint/0").asText()).isEqualTo("/opt/java/bin/java");

    assertThat(manifest.path("layers")).hasSize(2);
    for (int i = 0; i < 2; i++) {
      String digest = manifest.path("layers").get(i).path("digest").asText();
      byte[] gzipped = archive.get(blob(digest));
      assertThat(sha256(gzipped)).isEqualTo(digest);
      assertThat(sha256(gunzip(gzipped))).isEqualTo(config.at("/rootfs/diff_ids").get(i).asText());
    }

    JsonNode docker = JSON.readTree(archive.get("manifest.json")).get(0);
    assertThat(docker.path("RepoTags").get(0).asText()).isEqualTo("example.org/kiln-demo:1.0");
    assertThat(archive).containsKey(docker.path("Config").asText());
    docker.path("Layers").forEach(l -> assertThat(archive).containsKey(l.asText()));
    assertThat(new String(archive.get("oci-layout"), StandardCharsets.UTF_8)).contains("1.0.0");
  }

  @Test
  void layersKeepModesLinksAndOwnersAndAddTheirParents() throws IOException {
    Map<String, byte[]> archive = read(build("one"));
    JsonNode manifest = JSON.readTree(archive.get(blob(JSON.readTree(archive.get("index.json")).at("/manifests/0/digest").asText())));
    Map<String, TarArchiveEntry> os = entries(gunzip(archive.get(blob(manifest.at("/layers/0/digest").asText()))));

    assertThat(os.keySet()).allSatisfy(name -> assertThat(name).isNotEmpty().doesNotStartWith("/").isNotEqualTo("./"));
    assertThat(os).containsKeys("usr/", "usr/bin/", "usr/bin/tool", "usr/lib/libdemo.so", "usr/lib/libdemo.so.1", "tmp/");
    assertThat(os.get("usr/bin/tool").getMode() & 07777).isEqualTo(0755);
    assertThat(os.get("usr/lib/libdemo.so.1").getMode() & 07777).isEqualTo(0644);
    assertThat(os.get("usr/lib/libdemo.so").isSymbolicLink()).isTrue();
    assertThat(os.get("usr/lib/libdemo.so").getLinkName()).isEqualTo("libdemo.so.1");
    assertThat(os.get("tmp/").getMode() & 07777).isEqualTo(01777);
    assertThat(os.values()).allSatisfy(e -> {
      assertThat(e.getLongUserId()).isZero();
      assertThat(e.getModTime().toInstant()).isEqualTo(Images.EPOCH);
    });
  }

  @Test
  void theSameInputsGiveTheSameBytes() throws IOException {
    assertThat(build("one")).hasSameBinaryContentAs(build("two"));
  }

  private Path build(String name) throws IOException {
    Path root = folder.resolve("rootfs-" + name);
    Files.createDirectories(root.resolve("usr/bin"));
    Files.createDirectories(root.resolve("usr/lib"));
    Files.writeString(root.resolve("usr/bin/tool"), "#!/bin/sh\necho hi\n");
    Files.setPosixFilePermissions(root.resolve("usr/bin/tool"), PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.writeString(root.resolve("usr/lib/libdemo.so.1"), "ELF");
    Files.createSymbolicLink(root.resolve("usr/lib/libdemo.so"), Path.of("libdemo.so.1"));
    Path layers = folder.resolve("layers-" + name);
    Layer.Blob os = new Layer("os").addTree(root, "/").addDirectory("/tmp", 01777, 0).write(layers);
    Layer.Blob app = new Layer("app").addFile("/opt/kiln/app.txt", "app".getBytes(StandardCharsets.UTF_8), 0644)
        .write(layers);
    OciImage image = new OciImage("example.org/kiln-demo:1.0", List.of(os, app),
        List.of("/opt/java/bin/java", "-version"), Map.of("LANG", "C.UTF-8"),
        Map.of("org.opencontainers.image.revision", "abc123"), "65532:65532", "/");
    Path archive = folder.resolve(name + ".tar");
    image.writeTo(archive);
    return archive;
  }

  private static Map<String, byte[]> read(Path archive) throws IOException {
    Map<String, byte[]> files = new HashMap<>();
    try (InputStream in = Files.newInputStream(archive); TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
      for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
        if (!entry.isDirectory()) {
          files.put(entry.getName(), tar.readAllBytes());
        }
      }
    }
    return files;
  }

  private static Map<String, TarArchiveEntry> entries(byte[] tarBytes) throws IOException {
    Map<String, TarArchiveEntry> entries = new HashMap<>();
    try (TarArchiveInputStream tar = new TarArchiveInputStream(new ByteArrayInputStream(tarBytes))) {
      for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
        entries.put(entry.getName(), entry);
      }
    }
    return entries;
  }

  private static byte[] gunzip(byte[] gzipped) throws IOException {
    try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(gzipped))) {
      return in.readAllBytes();
    }
  }

  private static String blob(String digest) {
    return "blobs/sha256/" + digest.substring("sha256:".length());
  }

  private static String sha256(byte[] bytes) {
    return "sha256:" + Layer.hex(Layer.sha256().digest(bytes));
  }
}
