package dev.kiln.images.registry;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.PushCommand;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Pushes Kiln's image archives and its Helm chart to one OCI registry: each image with skopeo, its
 * manifest unchanged (the registry serves the digest the archive holds), and the chart with Helm's own
 * library as {@code oci://REGISTRY/kiln}. Credentials come from where each reads them: {@code skopeo
 * login}, and Helm's registry login file.
 */
@Command(name = "kiln-publish",
    description = "Push Kiln's image archives and its Helm chart to an OCI registry.")
public final class Publisher implements Callable<Integer> {

  /** Help only: a build tool with no version of its own to print (the images carry theirs). */
  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
  boolean help;

  @Parameters(index = "0", paramLabel = "REGISTRY",
      description = "Registry host and namespace, for example registry.example.com/ml")
  String registry;

  @Option(names = "--images", defaultValue = "${sys:kiln.home:-.}/target/images",
      description = "The folder of image archives (./build images writes them), default ${DEFAULT-VALUE}")
  Path images;

  @Option(names = "--chart", defaultValue = "${sys:kiln.home:-.}/charts/kiln", description = "The chart, default ${DEFAULT-VALUE}")
  Path chart;

  @Option(names = "--plain-http", description = "HTTP without TLS, for a registry on loopback")
  boolean plainHttp;

  @Option(names = "--skopeo", defaultValue = "skopeo", description = "The skopeo command, default ${DEFAULT-VALUE}")
  String skopeo;

  @Override
  public Integer call() throws IOException, InterruptedException {
    String target = registry.replaceAll("/+$", "");
    List<ImageArchive> archives = archives();
    Path work = Files.createTempDirectory("kiln-publish");
    try {
      for (ImageArchive archive : archives) {
        push(archive, target, work);
      }
      pushChart(target, work);
    } finally {
      try (Stream<Path> files = Files.walk(work)) {
        for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(file);
        }
      }
    }
    return 0;
  }

  private List<ImageArchive> archives() throws IOException {
    List<ImageArchive> archives = new ArrayList<>();
    if (Files.isDirectory(images)) {
      try (Stream<Path> files = Files.list(images)) {
        for (Path file : files.filter(f -> f.toString().endsWith(".tar") && Files.isRegularFile(f)).sorted().toList()) {
          archives.add(ImageArchive.read(file));
        }
      }
    }
    if (archives.isEmpty()) {
      throw new IOException("no image archives in " + images + " (./build images writes them)");
    }
    return archives;
  }

  private void push(ImageArchive archive, String target, Path work) throws IOException, InterruptedException {
    String reference = archive.referenceIn(target);
    Path digestFile = work.resolve(archive.name() + "-" + archive.tag() + ".digest");
    List<String> command = new ArrayList<>(List.of(skopeo, "copy", "--preserve-digests", "--digestfile", digestFile.toString()));
    if (plainHttp) {
      command.add("--dest-tls-verify=false");
    }
    command.add("oci-archive:" + archive.file().toAbsolutePath());
    command.add("docker://" + reference);
    Process process;
    try {
      process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.INHERIT).start();
    } catch (IOException e) {
      throw new IOException("cannot run " + skopeo + ": install skopeo (Debian and Ubuntu: apt-get install skopeo)", e);
    }
    int exit = process.waitFor();
    if (exit != 0) {
      throw new IOException("skopeo copy of " + archive.file() + " to " + reference + " failed (exit " + exit + ")");
    }
    String pushed = Files.readString(digestFile).strip();
    // --preserve-digests already refuses a conversion; this also catches a registry that rewrote the manifest.
    if (!pushed.equals(archive.digest())) {
      throw new IOException(reference + " has digest " + pushed + ", the archive " + archive.digest());
    }
    System.out.println(reference + "@" + pushed);
  }

  private void pushChart(String target, Path work) throws IOException {
    Path packages = Files.createDirectory(work.resolve("chart"));
    new Helm(chart).packageIt().withDestination(packages).call();
    Path packaged;
    try (Stream<Path> files = Files.list(packages)) {
      packaged = files.findFirst().orElseThrow(() -> new IOException("helm package wrote nothing for " + chart));
    }
    PushCommand push = Helm.push().withChart(packaged).withRemote(URI.create("oci://" + target));
    if (plainHttp) {
      push.plainHttp();
    }
    System.out.println(push.call().strip());
  }

  /** The command line, whose failures print one line (what went wrong and what to do), not a stack trace. */
  public static CommandLine commandLine() {
    return new CommandLine(new Publisher()).setExecutionExceptionHandler((e, commandLine, parsed) -> {
      commandLine.getErr().println("kiln-publish: " + e.getMessage());
      return 1;
    });
  }

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }
}
