package dev.kiln.trainer.bench;

import dev.kiln.trainer.parallel.Collectives;
import dev.kiln.trainer.parallel.NcclCollectives;
import dev.kiln.trainer.parallel.RendezvousStore;
import dev.kiln.trainer.parallel.TcpRingCollectives;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;

/**
 * Bus bandwidth of the TCP ring collectives between local ranks (threads, each with its own
 * sockets, as processes would have), against a plain loopback socket copy measured in the same
 * run; and the all-reduce time of a gradient bucket of a given size.
 */
public final class CollectivesBench {

  static final Duration TIMEOUT = Duration.ofSeconds(120);

  private CollectivesBench() {}

  /** How a rank joins: the TCP ring, or NCCL on GPU {@code rank} (unverified). */
  public interface Backend {
    Collectives join(RendezvousStore store, int rank, int world) throws IOException;
  }

  public static final Backend TCP_RING = (store, rank, world) ->
      TcpRingCollectives.connect(store, rank, world, "127.0.0.1", TIMEOUT);
  public static final Backend NCCL = (store, rank, world) -> NcclCollectives.connect(store, rank, world, rank);

  /** One operation's median seconds over {@code repeats}, on every rank at once. */
  interface Operation {
    void run(Collectives c, MemorySegment data, MemorySegment shard) throws IOException;
  }

  /**
   * @param gradientFloats the gradient bucket of the model whose step overhead is reported
   * @param stepSeconds that model's measured step time at world 1 (0: not reported)
   */
  public static Map<String, Object> run(Backend using, int megabytes, int[] worlds, long gradientFloats,
      double stepSeconds, int repeats) throws Exception {
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("bench", "collectives");
    result.put("backend", using == NCCL ? "nccl" : "tcp-ring");
    String wrong = incorrect(using, worlds[0]);
    result.put("correct", wrong == null);
    if (wrong != null) {
      result.put("error", wrong);
      return result;
    }
    result.put("megabytes", megabytes);
    double loopback = loopbackBytesPerSecond(megabytes);
    result.put("loopback_gbps", round(loopback * 8 / 1e9));
    int floats = megabytes * (1 << 20) / 4;
    for (int world : worlds) {
      int n = floats / world * world;
      double allReduce = seconds(using, world, n, repeats, (c, d, s) -> c.allReduce(d));
      double reduceScatter = seconds(using, world, n, repeats, (c, d, s) -> c.reduceScatter(d, s));
      double allGather = seconds(using, world, n, repeats, (c, d, s) -> c.allGather(s, d));
      double bytes = 4.0 * n;
      if (world == 1) {
        // One rank moves no data between ranks: report the algorithm bandwidth (bytes / time) instead.
        result.put("allreduce_algbw_gbps_w1", round(bytes / allReduce * 8 / 1e9));
        continue;
      }
      double ring = (world - 1.0) / world;
      double allReduceBus = bytes * 2 * ring / allReduce;
      result.put("allreduce_busbw_gbps_w" + world, round(allReduceBus * 8 / 1e9));
      result.put("reducescatter_busbw_gbps_w" + world, round(bytes * ring / reduceScatter * 8 / 1e9));
      result.put("allgather_busbw_gbps_w" + world, round(bytes * ring / allGather * 8 / 1e9));
      result.put("allreduce_ratio_to_loopback_w" + world, round(allReduceBus / loopback));
    }
    // The step overhead is world 2's (against world 1); other runs report their widest world.
    int ranks = Arrays.stream(worlds).anyMatch(w -> w == 2) ? 2 : Arrays.stream(worlds).max().orElseThrow();
    int bucket = (int) (gradientFloats / ranks * ranks);
    double gradientAllReduce = seconds(using, ranks, bucket, repeats, (c, d, s) -> c.allReduce(d));
    result.put("gradient_floats", bucket);
    result.put("gradient_allreduce_seconds_w" + ranks, round(gradientAllReduce));
    if (stepSeconds > 0 && ranks == 2) {
      // Data parallel adds one all-reduce of the gradients to each step (no overlap with backward yet).
      result.put("step_seconds_w1", round(stepSeconds));
      result.put("step_overhead_w2", round(gradientAllReduce / stepSeconds));
      result.put("goal_step_overhead", 0.15);
    }
    result.put("goal_ratio", 0.5);
    return result;
  }

  static double seconds(Backend backend, int world, int n, int repeats, Operation operation) throws Exception {
    try (RendezvousStore store = RendezvousStore.serve(0, TIMEOUT)) {
      int port = store.port();
      List<CompletableFuture<Double>> ranks = new ArrayList<>();
      var executor = Executors.newVirtualThreadPerTaskExecutor();
      for (int r = 0; r < world; r++) {
        int rank = r;
        ranks.add(CompletableFuture.supplyAsync(() -> {
          try (RendezvousStore client = RendezvousStore.join("127.0.0.1", port, TIMEOUT);
              Collectives ring = backend.join(client, rank, world)) {
            // Native memory, as the trainer's buckets and tensors are.
            MemorySegment data = Arena.ofAuto().allocate(4L * n, 64);
            MemorySegment shard = Arena.ofAuto().allocate(4L * (n / world), 64);
            double[] times = new double[repeats];
            operation.run(ring, data, shard);  // warm-up
            for (int i = 0; i < repeats; i++) {
              ring.barrier();
              long start = System.nanoTime();
              operation.run(ring, data, shard);
              times[i] = (System.nanoTime() - start) / 1e9;
            }
            Arrays.sort(times);
            return times[repeats / 2];
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }, executor));
      }
      double slowest = 0;
      for (var rank : ranks) {
        slowest = Math.max(slowest, rank.get());
      }
      return slowest;
    }
  }

  /**
   * Null when an all-reduce of rank + 1 everywhere gives world(world+1)/2 everywhere, on every
   * rank; otherwise what went wrong.
   */
  static String incorrect(Backend backend, int world) {
    float expected = world * (world + 1) / 2f;
    try {
      seconds(backend, world, 1000, 1, (c, data, shard) -> {
        float[] values = new float[(int) (data.byteSize() / 4)];
        Arrays.fill(values, c.rank() + 1);
        MemorySegment.copy(values, 0, data, Collectives.FLOAT, 0, values.length);
        c.allReduce(data);
        for (float value : data.toArray(Collectives.FLOAT)) {
          if (value != expected) {
            throw new IOException("all-reduce gave " + value + ", expected " + expected);
          }
        }
      });
      return null;
    } catch (Exception e) {
      Throwable cause = e;
      while (cause.getCause() != null) {
        cause = cause.getCause();
      }
      return cause.toString();
    }
  }

  /** Bytes per second of one socket copy over loopback, the ceiling for any ring step. */
  static double loopbackBytesPerSecond(int megabytes) throws Exception {
    byte[] payload = new byte[megabytes << 20];
    try (ServerSocket server = new ServerSocket(0)) {
      var reader = CompletableFuture.supplyAsync(() -> {
        try (Socket socket = server.accept(); InputStream in = socket.getInputStream()) {
          byte[] buffer = new byte[1 << 20];
          long total = 0;
          int n;
          while ((n = in.read(buffer)) > 0) {
            total += n;
          }
          return total;
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
      long start;
      try (Socket socket = new Socket("127.0.0.1", server.getLocalPort()); OutputStream out = socket.getOutputStream()) {
        socket.setSendBufferSize(4 << 20);
        start = System.nanoTime();
        for (int i = 0; i < 3; i++) {
          out.write(payload);
        }
      }
      long total = reader.get();
      return total / ((System.nanoTime() - start) / 1e9);
    }
  }

  private static double round(double value) {
    return Math.round(value * 1000) / 1000.0;
  }
}
