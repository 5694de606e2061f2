package dev.kiln.local;

import java.util.Map;
import java.util.Optional;

/**
 * What the local node runs for a container image: Kiln's images map to the main class their jar
 * would run, on the class path of this build. Registry and tag are ignored, so a job that pins
 * {@code registry.example.com/kiln-trainer:1.2} runs the trainer built here.
 */
public final class ImageCatalog {

  /** One image's program: the main class and the class path it runs on. */
  public record Program(String mainClass, String classPath) {}

  static final Map<String, String> MAIN_CLASSES = Map.of(
      "kiln-trainer", "dev.kiln.trainer.TrainerMain",
      "kiln-data-jobs", "dev.kiln.datajobs.DataJobsMain");

  private final String classPath;

  public ImageCatalog(String classPath) {
    this.classPath = classPath;
  }

  /** The catalog for this JVM's class path (the kiln command's, or a test's). */
  public static ImageCatalog ofThisBuild() {
    return new ImageCatalog(System.getProperty("java.class.path"));
  }

  public Optional<Program> program(String image) {
    return Optional.ofNullable(MAIN_CLASSES.get(repository(image))).map(main -> new Program(main, classPath));
  }

  /** {@code ghcr.io/kiln-dev/kiln-trainer:0.1.0@sha256:...} → {@code kiln-trainer}. */
  static String repository(String image) {
    String name = image;
    int digest = name.indexOf('@');
    if (digest >= 0) {
      name = name.substring(0, digest);
    }
    int slash = name.lastIndexOf('/');
    name = name.substring(slash + 1);
    int colon = name.indexOf(':');
    return colon >= 0 ? name.substring(0, colon) : name;
  }
}
