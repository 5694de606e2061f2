package dev.kiln.api.scheduling;

import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.Objects;

/** The kube-scheduler's toleration rule, which admission and the local scheduler both apply. */
public final class Tolerations {

  private Tolerations() {}

  /** The effect (if given) and key (unless Exists without one) match, and the value under Equal. */
  public static boolean tolerates(Toleration toleration, Taint taint) {
    if (toleration.getEffect() != null && !toleration.getEffect().isEmpty() && !toleration.getEffect().equals(taint.getEffect())) {
      return false;
    }
    boolean exists = "Exists".equals(toleration.getOperator());
    if (toleration.getKey() == null || toleration.getKey().isEmpty()) {
      return exists;
    }
    return toleration.getKey().equals(taint.getKey())
        && (exists || Objects.equals(Objects.toString(toleration.getValue(), ""), Objects.toString(taint.getValue(), "")));
  }
}
