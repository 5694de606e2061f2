package dev.kiln.images;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Writes Kiln's images from folders the build assembled: the operating-system files (from Debian
 * packages), a Java runtime (jlink), and each application. The three images share their first two
 * layers; the trainer for GPUs differs from the CPU one only in its last layer and environment.
 */
@Command(name = "kiln-images", description = "Write Kiln's OCI image archives.")
public final class ImageBuilder implements Callable<Integer> {

  /** Help only: a build tool with no version of its own to print (the images carry theirs). */
  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
  boolean help;

  @Option(names = "--rootfs", required = true, description = "Operating-system files (from Debian packages)")
  Path rootfs;

  @Option(names = "--java", required = true, description = "A Java runtime (jlink output)")
  Path java;

  @Option(names = "--operator", required = true, description = "The operator's quarkus-app folder")
  Path operator;

  @Option(names = "--trainer-lib", required = true, description = "The trainer's jars")
  Path trainerLib;

  @Option(names = "--data-jobs-lib", required = true, description = "The data jobs' jars")
  Path dataJobsLib;

  @Option(names = "--libtorch", description = "libtorch 2.7.1 for CUDA (its lib folder with NCCL): also writes kiln-trainer-cuda")
  Path libtorch;

  @Option(names = "--registry", defaultValue = "ghcr.io/kiln-dev")
  String registry;

  @Option(names = "--version", required = true)
  String version;

  @Option(names = "--revision", required = true, description = "The git commit the images are built from")
  String revision;

  @Option(names = "--out", required = true)
  Path out;

  /** The main class each application image runs. */
  static final String TRAINER_MAIN = "dev.kiln.trainer.TrainerMain";
  static final String DATA_JOBS_MAIN = "dev.kiln.datajobs.DataJobsMain";
  /** DJL's CPU libtorch, which the GPU trainer replaces with libtorch for CUDA. */
  static final String CPU_LIBTORCH_JAR = "pytorch-native-cpu";

  @Override
  public Integer call() throws IOException {
    Path layers = out.resolve("layers");
    Layer.Blob os = new Layer("os").addTree(rootfs, "/").addDirectory("/tmp", 01777, 0).write(layers);
    Layer.Blob runtime = new Layer("java").addTree(java, "/opt/java").write(layers);

    Layer.Blob operatorLib = new Layer("operator-lib").addTree(operator.resolve("lib"), "/opt/kiln/operator/lib").write(layers);
    Layer operatorApp = new Layer("operator");
    try (Stream<Path> files = Files.list(operator)) {
      for (Path file : files.sorted().filter(f -> !f.getFileName().toString().equals("lib")).toList()) {
        operatorApp.addTree(file, "/opt/kiln/operator/" + file.getFileName());
      }
    }
    write(image("kiln-operator", List.of(os, runtime, operatorLib, operatorApp.write(layers)),
        List.of("/opt/java/bin/java", "-jar", "/opt/kiln/operator/quarkus-run.jar"), Map.of(),
        "Kiln's operator: reconciles MultimodalPretrainJobs and schedules their GPU gangs"));

    write(image("kiln-trainer", List.of(os, runtime, libLayer("trainer-lib", trainerLib, false)),
        javaMain(TRAINER_MAIN), Map.of(), "Kiln's trainer (CPU libtorch): train, export, bench, sample-data"));
    write(image("kiln-data-jobs", List.of(os, runtime, libLayer("data-jobs-lib", dataJobsLib, false)),
        javaMain(DATA_JOBS_MAIN), Map.of(), "Kiln's data jobs: filter, pack, inspect"));
    if (libtorch != null) {
      Layer.Blob cuda = new Layer("libtorch-cuda").addTree(libtorch, "/opt/libtorch/lib").write(layers);
      write(image("kiln-trainer", version + "-cuda", List.of(os, runtime, libLayer("trainer-lib-cuda", trainerLib, true), cuda),
          javaMain(TRAINER_MAIN), Map.of("PYTORCH_LIBRARY_PATH", "/opt/libtorch/lib", "PYTORCH_VERSION", "2.7.1",
              "PYTORCH_FLAVOR", "cu128", "LD_LIBRARY_PATH", "/opt/libtorch/lib"),
          "Kiln's trainer for NVIDIA GPUs (libtorch 2.7.1 for CUDA 12.8 with NCCL)"));
    }
    return 0;
  }

  private Layer.Blob libLayer(String name, Path lib, boolean withoutCpuLibtorch) throws IOException {
    Layer layer = new Layer(name);
    try (Stream<Path> jars = Files.list(lib)) {
      for (Path jar : jars.sorted().toList()) {
        if (!(withoutCpuLibtorch && jar.getFileName().toString().startsWith(CPU_LIBTORCH_JAR))) {
          layer.addTree(jar, "/opt/kiln/lib/" + jar.getFileName());
        }
      }
    }
    return layer.write(out.resolve("layers"));
  }

  private static List<String> javaMain(String mainClass) {
    return List.of("/opt/java/bin/java", "--enable-native-access=ALL-UNNAMED", "-cp", "/opt/kiln/lib/*", mainClass);
  }

  private OciImage image(String name, List<Layer.Blob> layers, List<String> entrypoint, Map<String, String> env,
      String description) {
    return image(name, version, layers, entrypoint, env, description);
  }

  private OciImage image(String name, String tag, List<Layer.Blob> layers, List<String> entrypoint,
      Map<String, String> extraEnv, String description) {
    Map<String, String> env = new LinkedHashMap<>(Map.of(
        "PATH", "/opt/java/bin:/usr/bin:/bin",
        "JAVA_HOME", "/opt/java",
        "LANG", "C.UTF-8",
        // DJL never reaches the network; pods point its cache at their scratch volume.
        "DJL_OFFLINE", "true",
        "OPT_OUT_TRACKING", "true",
        "DJL_CACHE_DIR", "/tmp/djl"));
    env.putAll(extraEnv);
    Map<String, String> labels = Map.of(
        "org.opencontainers.image.title", name,
        "org.opencontainers.image.description", description,
        "org.opencontainers.image.version", version,
        "org.opencontainers.image.revision", revision,
        "org.opencontainers.image.source", "https://github.com/kiln-dev/kiln",
        "org.opencontainers.image.licenses", "Apache-2.0");
    String user = Images.NONROOT + ":" + Images.NONROOT;
    return new OciImage(registry + "/" + name + ":" + tag, layers, entrypoint, env, labels, user, "/");
  }

  private void write(OciImage image) throws IOException {
    String file = image.reference().substring(image.reference().lastIndexOf('/') + 1).replace(':', '-') + ".tar";
    Path archive = out.resolve(file);
    String digest = image.writeTo(archive);
    List<String> sizes = new ArrayList<>();
    for (Layer.Blob layer : image.layers()) {
      sizes.add(layer.name() + " " + layer.size() / (1 << 20) + " MiB");
    }
    System.out.printf("%s %s %d MiB (%s) %s%n", image.reference(), digest, Files.size(archive) / (1 << 20),
        String.join(", ", sizes), archive);
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new ImageBuilder()).execute(args));
  }
}
