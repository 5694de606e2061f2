package dev.kiln.images.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.images.OciImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * An image archive as {@code OciImage} writes it, read from its {@code index.json}: the repository
 * name and tag it was built as, and the digest of its manifest, which a registry must serve unchanged.
 */
public record ImageArchive(Path file, String name, String tag, String digest) {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Reads the archive's one image; fails on a tar that is not an OCI image layout with exactly one. */
  public static ImageArchive read(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file); TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
      for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
        if (entry.getName().equals("index.json")) {
          JsonNode manifests = JSON.readTree(tar.readAllBytes()).path("manifests");
          if (manifests.size() != 1) {
            throw new IOException(file + " holds " + manifests.size() + " images, not one");
          }
          JsonNode image = manifests.get(0);
          String reference = image.path("annotations").path(OciImage.REFERENCE_ANNOTATION).asText();
          String tag = image.path("annotations").path(OciImage.TAG_ANNOTATION).asText();
          if (reference.isEmpty() || tag.isEmpty()) {
            throw new IOException(file + " names no image (" + OciImage.REFERENCE_ANNOTATION + ", "
                + OciImage.TAG_ANNOTATION + ")");
          }
          String repository = reference.substring(0, reference.length() - tag.length() - 1);
          String name = repository.substring(repository.lastIndexOf('/') + 1);
          return new ImageArchive(file, name, tag, image.path("digest").asText());
        }
      }
    }
    throw new IOException(file + " is not an OCI image layout: no index.json");
  }

  /** Where the image goes in {@code registry} (a host and namespace): its own name and tag under it. */
  public String referenceIn(String registry) {
    return registry + "/" + name + ":" + tag;
  }
}
