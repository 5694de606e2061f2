package dev.kiln.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.v1alpha1.MultimodalPretrainJobSpec;
import dev.kiln.api.v1alpha1.TrainingQueueSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * A documented field that nothing reads is a defect: every field of the job and queue specs is
 * read by the code that acts on it (the operator, the data jobs, the trainer, the command line),
 * outside the API model and its validation, or is listed here with the reason it is not. Fields
 * are matched by their accessor's name ({@code .retainOnDelete()}), so one whose name another read
 * field shares ({@code .name()}) passes unchecked: the net catches a forgotten knob, not every one.
 */
class EveryFieldIsReadTest {

  /**
   * Where the programs that act on a spec live; the model and its validation do not count. The
   * memory model ({@code sizing}) and the queue's namespace rules ({@code scheduling}) do: the
   * operator and the command line act by them.
   */
  static final List<String> READERS = List.of("operator/src/main", "data-jobs/src/main", "trainer-image/src/main",
      "cli/src/main", "model/src/main", "data-core/src/main", "api/src/main/java/dev/kiln/api/runconfig",
      "api/src/main/java/dev/kiln/api/sizing", "api/src/main/java/dev/kiln/api/scheduling");

  /** Fields read by nothing but the API server or the model itself, and why that is enough. */
  static final Map<String, String> NOT_READ = Map.of(
      "spec.model.projector", "read through its hiddenSize by ModelSpec.resolve(), which turns the model into the"
          + " dimensions every program uses");

  @Test
  void everySpecFieldIsReadBySomeProgram() throws IOException {
    String code = readers(KilnRoot.path());
    List<String> unread = new ArrayList<>();
    for (var spec : List.of(MultimodalPretrainJobSpec.class, TrainingQueueSpec.class)) {
      for (Field field : fields(spec, "spec")) {
        if (!NOT_READ.containsKey(field.path()) && !code.contains("." + field.accessor() + "()")) {
          unread.add(field.path());
        }
      }
    }
    assertThat(unread).as("fields no program reads (read them, or list them in NOT_READ with the reason)").isEmpty();
  }

  @Test
  void everyFieldListedAsNotReadStillExists() {
    List<String> paths = new ArrayList<>();
    for (var spec : List.of(MultimodalPretrainJobSpec.class, TrainingQueueSpec.class)) {
      fields(spec, "spec").forEach(f -> paths.add(f.path()));
    }
    assertThat(paths).containsAll(NOT_READ.keySet());
  }

  record Field(String path, String accessor) {}

  /** Every component of a spec record, depth first, lists as {@code []}. */
  static List<Field> fields(Class<?> record, String prefix) {
    List<Field> out = new ArrayList<>();
    for (RecordComponent component : record.getRecordComponents()) {
      String path = prefix + "." + component.getName();
      out.add(new Field(path, component.getAccessor().getName()));
      Type type = component.getGenericType();
      Class<?> nested = component.getType();
      if (type instanceof ParameterizedType list && List.class.equals(list.getRawType())
          && list.getActualTypeArguments()[0] instanceof Class<?> element) {
        nested = element;
        path = path + "[]";
      }
      if (nested.isRecord() && nested.getPackageName().equals(MultimodalPretrainJobSpec.class.getPackageName())) {
        out.addAll(fields(nested, path));
      }
    }
    return out;
  }

  private static String readers(Path root) throws IOException {
    StringBuilder code = new StringBuilder();
    for (String folder : READERS) {
      try (Stream<Path> files = Files.walk(root.resolve(folder))) {
        files.filter(f -> f.toString().endsWith(".java")).forEach(f -> {
          try {
            code.append(Files.readString(f));
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
      }
    }
    return code.toString();
  }
}
