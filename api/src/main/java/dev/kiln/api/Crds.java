package dev.kiln.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** The CustomResourceDefinitions Kiln installs, as generated into this jar: jobs, then queues. */
public final class Crds {

  public static final String JOBS = "/META-INF/fabric8/multimodalpretrainjobs.kiln.dev-v1.yml";
  public static final String QUEUES = "/META-INF/fabric8/trainingqueues.kiln.dev-v1.yml";
  public static final List<String> ALL = List.of(JOBS, QUEUES);

  private Crds() {}

  /** One CRD's YAML. */
  public static String yaml(String resource) {
    try (InputStream in = Crds.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("the CRD " + resource + " is missing from the kiln-api jar; rebuild it");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Every CRD as one multi-document YAML stream, for {@code kubectl apply -f -}. */
  public static String allYaml() {
    StringBuilder out = new StringBuilder();
    for (String resource : ALL) {
      if (!out.isEmpty()) {
        out.append("---\n");
      }
      out.append(yaml(resource));
    }
    return out.toString();
  }
}
