package dev.kiln.datajobs;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** Runs the data-jobs command line in-process, capturing its output. */
public final class DataJobsTestSupport {

  public record Result(int exit, String out, String err) {}

  private DataJobsTestSupport() {}

  public static Result run(String... args) {
    return run(CommandLine.defaultFactory(), args);
  }

  /** {@link #run(String...)} with the commands made by {@code factory}. */
  public static Result run(CommandLine.IFactory factory, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = DataJobsMain.commandLine(factory);
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    return new Result(cli.execute(args), out.toString(), err.toString());
  }
}
