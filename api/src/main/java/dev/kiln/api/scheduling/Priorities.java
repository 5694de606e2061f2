package dev.kiln.api.scheduling;

import io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClass;
import java.util.Collection;
import java.util.OptionalInt;

/**
 * A priority from a PriorityClass name, as the API server's Priority admission plugin resolves a
 * pod's: the named class's value; with no name, the value of the globalDefault class (the lowest,
 * should several claim it) or 0. The Builtin queue orders jobs by it, and the local API server
 * refuses pods by it as a real one does.
 */
public final class Priorities {

  private Priorities() {}

  /** The priority a pod (or job) gets when no PriorityClass is named and none is the cluster's default. */
  public static final int WHEN_NO_DEFAULT_CLASS = 0;

  /** The value {@code className} stands for among {@code classes}; empty when a class is named and does not exist. */
  public static OptionalInt resolve(String className, Collection<PriorityClass> classes) {
    if (className == null || className.isEmpty()) {
      return OptionalInt.of(classes.stream()
          .filter(c -> Boolean.TRUE.equals(c.getGlobalDefault()) && c.getValue() != null)
          .mapToInt(PriorityClass::getValue).min().orElse(WHEN_NO_DEFAULT_CLASS));
    }
    return classes.stream().filter(c -> className.equals(c.getMetadata().getName()) && c.getValue() != null)
        .mapToInt(PriorityClass::getValue).findFirst();
  }

  /** What the API server answers a pod naming a class that does not exist (403 Forbidden). */
  public static String missing(String className) {
    return "no PriorityClass with name " + className + " was found";
  }
}
