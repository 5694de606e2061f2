package dev.kiln.trainer.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.trainer.parallel.Collectives;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The collectives bench checks its sums before it measures, and a wrong sum fails the command. */
class CollectivesBenchTest {

  /** The TCP ring with an all-reduce that leaves each rank's data as it was. */
  static final CollectivesBench.Backend NO_OP_ALL_REDUCE = (store, rank, world) -> {
    Collectives ring = CollectivesBench.TCP_RING.join(store, rank, world);
    return (Collectives) Proxy.newProxyInstance(Collectives.class.getClassLoader(), new Class<?>[] {Collectives.class},
        (proxy, method, args) -> {
          if (method.getName().equals("allReduce") && args[0] instanceof MemorySegment) {
            return null;
          }
          try {
            return method.invoke(ring, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  };

  @Test
  void aCorrectRingPassesTheCheck() {
    assertThat(CollectivesBench.incorrect(CollectivesBench.TCP_RING, 2)).isNull();
  }

  @Test
  void aWrongAllReduceIsReportedAndFailsTheCommand() throws Exception {
    Map<String, Object> result = CollectivesBench.run(NO_OP_ALL_REDUCE, 1, new int[] {2}, 1000, 0, 1);

    assertThat(result.get("correct")).isEqualTo(false);
    assertThat((String) result.get("error")).containsPattern("all-reduce gave [12].0, expected 3.0");
    assertThat(CollectivesBenchCommand.exitCode(result)).isEqualTo(1);
    assertThat(CollectivesBenchCommand.exitCode(Map.of("correct", true))).isZero();
  }
}
