package dev.kiln.datajobs.fetch;

import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.api.runconfig.FailureReport;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * Copies model weights and data onto a folder (a claim, in a pod) from Hugging Face hub
 * repositories, S3 and plain URLs: every file resumable, checked against the digest its source
 * publishes, and complete under its own name only once verified.
 */
@Command(name = "fetch", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Copy hub repositories, S3 objects and URLs into a folder, resumable and checked.",
        "",
        "SOURCE is one of:",
        "  hf://OWNER/REPO[@REVISION]           a model repository (default revision main), into DIR/repo/",
        "  hf://datasets/OWNER/REPO[@REVISION]  a dataset repository, into DIR/repo/",
        "  s3://BUCKET/KEY                      one object, into DIR under its last name",
        "  s3://BUCKET/PREFIX/                  every object under the prefix, by key below it",
        "  https://HOST/PATH[#sha256=HEX]       one file, into DIR under its name",
        "(repo: the repository's name in lower case.)",
        "",
        "Environment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN; AWS_ENDPOINT_URL_S3 or",
        "AWS_ENDPOINT_URL, AWS_REGION or AWS_DEFAULT_REGION (default us-east-1), AWS_ACCESS_KEY_ID,",
        "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (anonymous without a key).",
        "",
        "A file downloads into NAME.part, resumes from it, and becomes NAME once its size and digest",
        "(an LFS file's sha256, a git file's blob id, S3's x-amz-checksum-sha256, a URL's #sha256)",
        "check out. A file already there with them is kept. Exit 65: not found or a wrong digest;",
        "78: credentials refused; 1: a transfer that kept failing, or a full disk (run again to resume).",
        ""})
public final class FetchCommand implements Callable<Integer> {

  @Parameters(arity = "1..*", paramLabel = "SOURCE", description = "What to fetch (see above)")
  List<String> sources;

  @Option(names = "--output", required = true, paramLabel = "DIR", description = "Folder the files land in")
  Path output;

  @Option(names = "--attempts", defaultValue = "5", paramLabel = "N",
      description = "Tries per file while a transfer makes no progress (5xx, a dropped connection), default 5")
  int attempts;

  @Spec
  CommandSpec spec;

  private final Map<String, String> environment;
  private final Duration firstRetryWait;
  private final PartFiles partFiles;

  /** As the data-jobs image runs it: the process's environment, a real disk. */
  public FetchCommand() {
    this(System.getenv(), Duration.ofSeconds(1), PartFiles.DISK);
  }

  /**
   * With the settings and credentials from {@code environment}, retry waits from {@code
   * firstRetryWait}, and {@code partFiles} as the disk.
   */
  public FetchCommand(Map<String, String> environment, Duration firstRetryWait, PartFiles partFiles) {
    this.environment = Map.copyOf(environment);
    this.firstRetryWait = firstRetryWait;
    this.partFiles = partFiles;
  }

  @Override
  public Integer call() throws IOException {
    PrintWriter err = spec.commandLine().getErr();
    if (attempts < 1) {
      return FailureReport.usage(spec.qualifiedName(), "--attempts must be at least 1", err);
    }
    List<Source> parsed = new ArrayList<>();
    for (String text : sources) {
      try {
        parsed.add(Source.parse(text, environment));
      } catch (IllegalArgumentException e) {
        return FailureReport.usage(spec.qualifiedName(), text + ": " + e.getMessage(), err);
      }
    }
    try (FetchHttp http = new FetchHttp(new FetchHttp.Retries(attempts, firstRetryWait));
        Download download = new Download(http, partFiles, Duration.ofMinutes(2))) {
      Map<Path, RemoteFile> plan = new LinkedHashMap<>();
      Map<Path, String> from = new HashMap<>();
      for (Source source : parsed) {
        List<RemoteFile> files;
        try {
          files = source.files(http);
        } catch (FetchFailure e) {
          throw e.getMessage().startsWith(source.name()) ? e : e.about(source.name());
        } catch (IllegalArgumentException e) {
          return FailureReport.usage(spec.qualifiedName(), source.name() + ": " + e.getMessage(), err);
        }
        for (RemoteFile file : files) {
          Path target = output.resolve(file.path()).normalize();
          String earlier = from.putIfAbsent(target, source.name());
          if (earlier != null) {
            return FailureReport.usage(spec.qualifiedName(), target + " would come from both " + earlier + " and "
                + source.name(), err);
          }
          plan.put(target, file);
        }
      }
      Files.createDirectories(output);
      String room = roomFor(plan);
      if (room != null) {
        err.println("fetch: " + output + ": " + room);
        err.flush();
        return ExitCodes.FAILURE;
      }
      long bytes = 0;
      int downloaded = 0;
      for (Map.Entry<Path, RemoteFile> entry : plan.entrySet()) {
        Download.Outcome outcome = download.fetch(entry.getValue(), entry.getKey());
        long size = Files.size(entry.getKey());
        if (outcome == Download.Outcome.DOWNLOADED) {
          downloaded++;
          bytes += size;
        }
        err.printf("fetch: %s %s (%s)%n", entry.getKey(), outcome == Download.Outcome.DOWNLOADED ? "downloaded"
            : "already there", bytesInWords(size));
        err.flush();
      }
      err.printf("fetch: %d files in %s: %d downloaded (%s), %d already there%n", plan.size(), output, downloaded,
          bytesInWords(bytes), plan.size() - downloaded);
      err.flush();
      return ExitCodes.OK;
    } catch (FetchFailure e) {
      err.println("fetch: " + e.getMessage());
      err.flush();
      return e.exitCode();
    }
  }

  /** Null when the output's disk has room for every byte still to come (as far as the sources give sizes), else why not. */
  private String roomFor(Map<Path, RemoteFile> plan) throws IOException {
    long needed = 0;
    for (Map.Entry<Path, RemoteFile> entry : plan.entrySet()) {
      long size = entry.getValue().size();
      if (size < 0) {
        continue;
      }
      Path target = entry.getKey();
      Path part = Download.partOf(target);
      long present = Files.isRegularFile(target) && Files.size(target) == size ? size
          : Files.isRegularFile(part) ? Math.min(Files.size(part), size) : 0;
      needed += size - present;
    }
    long usable = Files.getFileStore(output).getUsableSpace();
    return needed > usable ? "needs " + bytesInWords(needed) + " more, the disk has " + bytesInWords(usable) + " free" : null;
  }

  static String bytesInWords(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double value = bytes;
    int unit = -1;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
  }
}
