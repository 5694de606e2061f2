package dev.kiln.cli;

import dev.kiln.api.Crds;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code kiln crd}: the CustomResourceDefinitions generated from the API model ({@code kiln crd | kubectl apply -f -}). */
@Command(name = "crd", mixinStandardHelpOptions = true,
    description = "Print the MultimodalPretrainJob and TrainingQueue CRDs as one YAML stream.")
final class CrdCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().getOut().print(Crds.allYaml());
    spec.commandLine().getOut().flush();
    return 0;
  }
}
