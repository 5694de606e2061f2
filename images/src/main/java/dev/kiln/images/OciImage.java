package dev.kiln.images;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * An image and how it is written: an OCI image layout in one tar (what {@code docker save} and
 * {@code skopeo copy oci-archive:} produce), with Docker's {@code manifest.json} beside it, so
 * that {@code docker load}, {@code ctr images import} and {@code kind load image-archive} all take it.
 */
public record OciImage(String reference, List<Layer.Blob> layers, List<String> entrypoint, Map<String, String> env,
    Map<String, String> labels, String user, String workingDir) {

  private static final ObjectMapper JSON = new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

  /** The index's annotations naming the image: its full reference (containerd's) and its tag (OCI's). */
  public static final String REFERENCE_ANNOTATION = "io.containerd.image.name";
  public static final String TAG_ANNOTATION = "org.opencontainers.image.ref.name";

  /** The image's config (what {@code docker inspect} shows) as canonical JSON. */
  byte[] config() {
    ObjectNode config = JSON.createObjectNode();
    config.put("created", Images.EPOCH.toString());
    config.put("architecture", "amd64");
    config.put("os", "linux");
    ObjectNode run = config.putObject("config");
    run.put("User", user);
    ArrayNode environment = run.putArray("Env");
    new TreeMap<>(env).forEach((k, v) -> environment.add(k + "=" + v));
    ArrayNode entry = run.putArray("Entrypoint");
    entrypoint.forEach(entry::add);
    run.put("WorkingDir", workingDir);
    ObjectNode labelNode = run.putObject("Labels");
    new TreeMap<>(labels).forEach(labelNode::put);
    ObjectNode rootfs = config.putObject("rootfs");
    rootfs.put("type", "layers");
    ArrayNode diffIds = rootfs.putArray("diff_ids");
    ArrayNode history = config.putArray("history");
    for (Layer.Blob layer : layers) {
      diffIds.add(layer.diffId());
      history.addObject().put("created", Images.EPOCH.toString()).put("created_by", "kiln images: " + layer.name());
    }
    return bytes(config);
  }

  /** Writes the image to {@code archive} (a tar); returns the manifest's digest. */
  public String writeTo(Path archive) throws IOException {
    byte[] config = config();
    String configDigest = "sha256:" + Layer.hex(Layer.sha256().digest(config));
    ObjectNode manifest = JSON.createObjectNode();
    manifest.put("schemaVersion", 2);
    manifest.put("mediaType", "application/vnd.oci.image.manifest.v1+json");
    manifest.putObject("config").put("mediaType", "application/vnd.oci.image.config.v1+json")
        .put("digest", configDigest).put("size", config.length);
    ArrayNode layerNodes = manifest.putArray("layers");
    for (Layer.Blob layer : layers) {
      layerNodes.addObject().put("mediaType", "application/vnd.oci.image.layer.v1.tar+gzip")
          .put("digest", layer.digest()).put("size", layer.size());
    }
    ObjectNode annotations = manifest.putObject("annotations");
    new TreeMap<>(labels).forEach(annotations::put);
    byte[] manifestBytes = bytes(manifest);
    String manifestDigest = "sha256:" + Layer.hex(Layer.sha256().digest(manifestBytes));

    ObjectNode index = JSON.createObjectNode();
    index.put("schemaVersion", 2);
    index.put("mediaType", "application/vnd.oci.image.index.v1+json");
    ObjectNode described = index.putArray("manifests").addObject();
    described.put("mediaType", "application/vnd.oci.image.manifest.v1+json");
    described.put("digest", manifestDigest);
    described.put("size", manifestBytes.length);
    described.putObject("platform").put("architecture", "amd64").put("os", "linux");
    described.putObject("annotations")
        .put(REFERENCE_ANNOTATION, reference)
        .put(TAG_ANNOTATION, tag());

    ArrayNode dockerManifest = JSON.createArrayNode();
    ObjectNode docker = dockerManifest.addObject();
    docker.put("Config", blobPath(configDigest));
    docker.putArray("RepoTags").add(reference);
    ArrayNode dockerLayers = docker.putArray("Layers");
    layers.forEach(l -> dockerLayers.add(blobPath(l.digest())));

    Files.createDirectories(archive.toAbsolutePath().getParent());
    try (OutputStream file = Files.newOutputStream(archive);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(new java.io.BufferedOutputStream(file, 1 << 16))) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      directory(tar, "blobs/");
      directory(tar, "blobs/sha256/");
      List<String> written = new ArrayList<>();
      for (Layer.Blob layer : layers) {
        if (!written.contains(layer.digest())) {
          written.add(layer.digest());
          file(tar, blobPath(layer.digest()), layer.file());
        }
      }
      bytes(tar, blobPath(configDigest), config);
      bytes(tar, blobPath(manifestDigest), manifestBytes);
      bytes(tar, "index.json", bytes(index));
      bytes(tar, "manifest.json", bytes(dockerManifest));
      bytes(tar, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
      tar.finish();
    }
    return manifestDigest;
  }

  private String tag() {
    int colon = reference.lastIndexOf(':');
    return colon > reference.lastIndexOf('/') ? reference.substring(colon + 1) : "latest";
  }

  private static String blobPath(String digest) {
    return "blobs/sha256/" + digest.substring("sha256:".length());
  }

  private static byte[] bytes(Object node) {
    try {
      return JSON.writeValueAsBytes(node);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void directory(TarArchiveOutputStream tar, String name) throws IOException {
    TarArchiveEntry entry = new TarArchiveEntry(name);
    entry.setModTime(Images.EPOCH.toEpochMilli());
    tar.putArchiveEntry(entry);
    tar.closeArchiveEntry();
  }

  private static void bytes(TarArchiveOutputStream tar, String name, byte[] content) throws IOException {
    TarArchiveEntry entry = new TarArchiveEntry(name);
    entry.setSize(content.length);
    entry.setMode(0100644);
    entry.setModTime(Images.EPOCH.toEpochMilli());
    tar.putArchiveEntry(entry);
    tar.write(content);
    tar.closeArchiveEntry();
  }

  private static void file(TarArchiveOutputStream tar, String name, Path source) throws IOException {
    TarArchiveEntry entry = new TarArchiveEntry(name);
    entry.setSize(Files.size(source));
    entry.setMode(0100644);
    entry.setModTime(Images.EPOCH.toEpochMilli());
    tar.putArchiveEntry(entry);
    Files.copy(source, tar);
    tar.closeArchiveEntry();
  }
}
