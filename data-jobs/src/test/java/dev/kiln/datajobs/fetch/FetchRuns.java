package dev.kiln.datajobs.fetch;

import dev.kiln.datajobs.DataJobsTestSupport;
import java.time.Duration;
import java.util.Map;
import picocli.CommandLine;

/** Runs {@code kiln-data fetch} in-process with a given environment and disk, and retry waits of milliseconds. */
final class FetchRuns {

  private FetchRuns() {}

  static DataJobsTestSupport.Result fetch(Map<String, String> environment, PartFiles disk, String... args) {
    CommandLine.IFactory factory = new CommandLine.IFactory() {
      @Override
      public <K> K create(Class<K> type) throws Exception {
        return type == FetchCommand.class ? type.cast(new FetchCommand(environment, Duration.ofMillis(5), disk))
            : CommandLine.defaultFactory().create(type);
      }
    };
    String[] all = new String[args.length + 1];
    all[0] = "fetch";
    System.arraycopy(args, 0, all, 1, args.length);
    return DataJobsTestSupport.run(factory, all);
  }

  static DataJobsTestSupport.Result fetch(Map<String, String> environment, String... args) {
    return fetch(environment, PartFiles.DISK, args);
  }
}
