package dev.kiln.trainer.parallel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The ring collectives between ranks on loopback (threads here; the trainer test runs processes). */
class TcpRingCollectivesTest {

  static final Duration TIMEOUT = Duration.ofSeconds(20);

  interface RankBody {
    float[] run(Collectives c) throws IOException;
  }

  /** Runs {@code body} on {@code world} ranks; returns each rank's result. */
  static List<float[]> onRanks(int world, RankBody body) throws Exception {
    try (RendezvousStore store = RendezvousStore.serve(0, TIMEOUT)) {
      int port = store.port();
      List<CompletableFuture<float[]>> ranks = new ArrayList<>();
      for (int r = 0; r < world; r++) {
        int rank = r;
        ranks.add(CompletableFuture.supplyAsync(() -> {
          try (RendezvousStore client = RendezvousStore.join("127.0.0.1", port, TIMEOUT);
              TcpRingCollectives ring = TcpRingCollectives.connect(client, rank, world, "127.0.0.1", TIMEOUT)) {
            return body.run(ring);
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }, java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()));
      }
      List<float[]> results = new ArrayList<>();
      for (var rank : ranks) {
        results.add(rank.get(60, TimeUnit.SECONDS));
      }
      return results;
    }
  }

  static float[] values(int rank, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = rank * 1000 + i;
    }
    return v;
  }

  @Test
  void allReduceSumsOverRanksForAnyLengthAndWorld() throws Exception {
    for (int world : new int[] {2, 3, 4}) {
      for (int n : new int[] {1, 7, 1000, 300_001}) {
        List<float[]> results = onRanks(world, c -> {
          float[] data = values(c.rank(), n);
          c.allReduce(data);
          return data;
        });
        float[] expected = new float[n];
        for (int r = 0; r < world; r++) {
          float[] v = values(r, n);
          for (int i = 0; i < n; i++) {
            expected[i] += v[i];
          }
        }
        for (float[] result : results) {
          assertThat(java.util.Arrays.equals(result, expected)).as("world %d, n %d", world, n).isTrue();
        }
      }
    }
  }

  @Test
  void reduceScatterLeavesEachRankItsSegmentAndAllGatherPutsThemBack() throws Exception {
    int world = 3;
    int shard = 5;
    List<float[]> results = onRanks(world, c -> {
      float[] mine = new float[shard];
      c.reduceScatter(values(c.rank(), world * shard), mine);
      float[] all = new float[world * shard];
      c.allGather(mine, all);
      return all;
    });
    for (float[] result : results) {
      for (int i = 0; i < world * shard; i++) {
        assertThat(result[i]).isEqualTo((0 + 1000 + 2000) + 3 * i);
      }
    }
  }

  @Test
  void broadcastCopiesTheRootsData() throws Exception {
    List<float[]> results = onRanks(4, c -> {
      float[] data = values(c.rank(), 10);
      c.broadcast(data, 2);
      return data;
    });
    results.forEach(r -> assertThat(r).containsExactly(values(2, 10)));
  }

  @Test
  void allReduceWorksInPlaceOnATensorsOwnMemory() throws Exception {
    int n = 300_001;
    List<float[]> results = onRanks(2, c -> {
      try (NDManager manager = NDManager.newBaseManager()) {
        NDArray tensor = manager.create(values(c.rank(), n));
        c.allReduce(MemorySegment.ofBuffer(tensor.toByteBuffer(true)));
        return tensor.toFloatArray();  // never set: the ring wrote into the tensor itself
      }
    });
    float[] expected = values(0, n);
    float[] other = values(1, n);
    for (int i = 0; i < n; i++) {
      expected[i] += other[i];
    }
    for (float[] result : results) {
      assertThat(java.util.Arrays.equals(result, expected)).isTrue();
    }
  }

  @Test
  void aRankThatDiesMakesTheOthersFailFastInsteadOfHanging() throws Exception {
    long start = System.nanoTime();
    assertThatThrownBy(() -> onRanks(3, c -> {
      if (c.rank() == 1) {
        c.close();  // rank 1 is gone
        return null;
      }
      float[] data = new float[100_000];
      for (int i = 0; i < 5; i++) {
        c.allReduce(data);
      }
      return data;
    })).isInstanceOf(ExecutionException.class).hasStackTraceContaining("Exception: ring: ");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(TIMEOUT);
  }

  @Test
  void waitingForARankThatNeverArrivesTimesOutWithARetryableError() throws Exception {
    try (RendezvousStore store = RendezvousStore.serve(0, Duration.ofMillis(300))) {
      assertThatThrownBy(() -> store.get("ring/3/address"))
          .isInstanceOf(RendezvousStore.RendezvousTimeoutException.class)
          .hasMessageContaining("waited 0.3 s for ring/3/address, which a rank that has not arrived would set");
    }
  }

  @Test
  void joiningAStoreThatNeverComesUpTimesOutWithARetryableError() {
    assertThatThrownBy(() -> RendezvousStore.join("127.0.0.1", 1, Duration.ofMillis(300)))
        .isInstanceOf(RendezvousStore.RendezvousTimeoutException.class).hasMessageContaining("no store at 127.0.0.1:1");
  }
}
