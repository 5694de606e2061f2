package dev.kiln.datajobs;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** Runs the data-jobs command line in-process, capturing its output. */
public final class DataJobsTestSupport {

  public record Result(int exit, String out, String err) {}

  private DataJobsTestSupport() {}

  public static Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = DataJobsMain.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    return new Result(cli.execute(args), out.toString(), err.toString());
  }
}
