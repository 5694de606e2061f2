package dev.kiln.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code kiln crd}: the CustomResourceDefinition generated from the API model ({@code kiln crd | kubectl apply -f -}). */
@Command(name = "crd", mixinStandardHelpOptions = true, description = "Print the MultimodalPretrainJob CRD YAML.")
final class CrdCommand implements Callable<Integer> {

  static final String RESOURCE = "/META-INF/fabric8/multimodalpretrainjobs.kiln.dev-v1.yml";

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    try (InputStream in = CrdCommand.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("the CRD is missing from the kiln-api jar; rebuild with ./mvnw -pl cli -am package");
      }
      spec.commandLine().getOut().print(new String(in.readAllBytes(), StandardCharsets.UTF_8));
      spec.commandLine().getOut().flush();
    }
    return 0;
  }
}
