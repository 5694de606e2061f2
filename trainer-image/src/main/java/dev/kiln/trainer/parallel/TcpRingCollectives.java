package dev.kiln.trainer.parallel;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Collectives across processes on the CPU: ranks form a ring over TCP (each sends to rank + 1
 * and receives from rank - 1), found through the {@link RendezvousStore}. Reduce-scatter and
 * all-gather are the bandwidth-optimal ring algorithms (each rank moves 2(W-1)/W of the data for
 * an all-reduce); sending and receiving overlap. Sums are in float32, so results depend on the
 * ring order (not on timing): the same world size gives the same bits.
 *
 * <p>In-JVM Gloo cannot sit next to DJL's libtorch, and MPI needs a launcher that pods lack,
 * which is why this is plain Java. NCCL for GPUs is a separate, unverified backend.
 */
public final class TcpRingCollectives implements Collectives {

  static final int SLICE_BYTES = 1 << 20;

  private final int rank;
  private final int world;
  private final Socket right;
  private final Socket left;
  private final OutputStream toRight;
  private final InputStream fromLeft;
  private final ExecutorService sender;
  private final int timeoutSeconds;
  private byte[] sendBytes = new byte[SLICE_BYTES];
  private byte[] receiveBytes = new byte[SLICE_BYTES];

  private TcpRingCollectives(int rank, int world, Socket right, Socket left, Duration timeout) throws IOException {
    this.rank = rank;
    this.world = world;
    this.right = right;
    this.left = left;
    this.timeoutSeconds = (int) timeout.toSeconds();
    this.toRight = right.getOutputStream();
    this.fromLeft = left.getInputStream();
    this.sender = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon().name("ring-send-" + rank).unstarted(r));
  }

  /**
   * Joins the ring: publishes {@code address}:port for this rank in the store, connects to the
   * next rank and accepts the previous one. {@code timeout} bounds both the setup and every
   * later wait for a peer.
   */
  public static TcpRingCollectives connect(RendezvousStore store, int rank, int world, String address, Duration timeout)
      throws IOException {
    if (world < 2) {
      throw new IllegalArgumentException("a ring needs two ranks or more, found world " + world);
    }
    try (ServerSocket listener = new ServerSocket()) {
      listener.bind(new InetSocketAddress(0));
      listener.setSoTimeout((int) timeout.toMillis());
      store.set("ring/" + rank, address + ":" + listener.getLocalPort());
      String next = store.get("ring/" + (rank + 1) % world);
      int colon = next.lastIndexOf(':');
      Socket right = new Socket();
      right.connect(new InetSocketAddress(next.substring(0, colon), Integer.parseInt(next.substring(colon + 1))),
          (int) timeout.toMillis());
      Socket left;
      try {
        left = listener.accept();
      } catch (SocketTimeoutException e) {
        right.close();
        throw new RendezvousStore.RendezvousTimeoutException("ring: rank " + (rank + world - 1) % world
            + " did not connect within " + timeout.toSeconds() + " s");
      }
      for (Socket s : new Socket[] {right, left}) {
        s.setTcpNoDelay(true);
        s.setSendBufferSize(4 << 20);
        s.setReceiveBufferSize(4 << 20);
        s.setSoTimeout((int) timeout.toMillis());
      }
      TcpRingCollectives ring = new TcpRingCollectives(rank, world, right, left, timeout);
      ring.barrier();
      return ring;
    }
  }

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int world() {
    return world;
  }

  @Override
  public void allReduce(float[] data) throws IOException {
    int chunk = (data.length + world - 1) / world;
    reduceScatterRing(data, chunk);
    allGatherRing(data, chunk);
  }

  @Override
  public void reduceScatter(float[] data, float[] shard) throws IOException {
    requireLength(data, shard);
    float[] work = data.clone();
    reduceScatterRing(work, shard.length);
    System.arraycopy(work, rank * shard.length, shard, 0, shard.length);
  }

  @Override
  public void allGather(float[] shard, float[] data) throws IOException {
    requireLength(data, shard);
    System.arraycopy(shard, 0, data, rank * shard.length, shard.length);
    allGatherRing(data, shard.length);
  }

  @Override
  public void broadcast(float[] data, int root) throws IOException {
    int next = (rank + 1) % world;
    if (rank != root) {
      receive(data, 0, data.length, false);
    }
    if (next != root) {
      send(data, 0, data.length).io();
    }
  }

  @Override
  public void barrier() throws IOException {
    allReduce(new float[] {1});
  }

  /** After it, rank r holds the sum of chunk r; chunk i is [i*chunk, (i+1)*chunk) cut to the length. */
  private void reduceScatterRing(float[] data, int chunk) throws IOException {
    for (int step = 0; step < world - 1; step++) {
      int sending = Math.floorMod(rank - step - 1, world);
      int receiving = Math.floorMod(rank - step - 2, world);
      exchange(data, chunk, sending, receiving, true);
    }
  }

  /** Rank r starts with chunk r complete; after it every rank has every chunk. */
  private void allGatherRing(float[] data, int chunk) throws IOException {
    for (int step = 0; step < world - 1; step++) {
      int sending = Math.floorMod(rank - step, world);
      int receiving = Math.floorMod(rank - step - 1, world);
      exchange(data, chunk, sending, receiving, false);
    }
  }

  private void exchange(float[] data, int chunk, int sendChunk, int receiveChunk, boolean add) throws IOException {
    int sendFrom = Math.min(data.length, sendChunk * chunk);
    int sendTo = Math.min(data.length, sendFrom + chunk);
    int receiveFrom = Math.min(data.length, receiveChunk * chunk);
    int receiveTo = Math.min(data.length, receiveFrom + chunk);
    Future<Void> sent = sender.submit(send(data, sendFrom, sendTo - sendFrom));
    receive(data, receiveFrom, receiveTo - receiveFrom, add);
    try {
      sent.get();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  private IoTask send(float[] data, int from, int length) {
    return () -> {
      try {
        int done = 0;
        while (done < length) {
          int n = Math.min(length - done, sendBytes.length / 4);
          ByteBuffer.wrap(sendBytes, 0, n * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(data, from + done, n);
          toRight.write(sendBytes, 0, n * 4);
          done += n;
        }
        toRight.flush();
      } catch (IOException e) {
        throw new IOException("ring: cannot send to rank " + (rank + 1) % world + " (it stopped or failed): "
            + e.getMessage(), e);
      }
    };
  }

  private void receive(float[] data, int from, int length, boolean add) throws IOException {
    int done = 0;
    while (done < length) {
      int n = Math.min(length - done, receiveBytes.length / 4);
      readFully(receiveBytes, n * 4);
      var floats = ByteBuffer.wrap(receiveBytes, 0, n * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
      if (add) {
        for (int i = 0; i < n; i++) {
          data[from + done + i] += floats.get(i);
        }
      } else {
        floats.get(data, from + done, n);
      }
      done += n;
    }
  }

  private void readFully(byte[] into, int length) throws IOException {
    int read = 0;
    try {
      while (read < length) {
        int n = fromLeft.read(into, read, length - read);
        if (n < 0) {
          throw new EOFException("ring: rank " + (rank + world - 1) % world + " closed the connection (it stopped or failed)");
        }
        read += n;
      }
    } catch (SocketTimeoutException e) {
      throw new IOException("ring: nothing from rank " + (rank + world - 1) % world + " for " + timeoutSeconds
          + " s (it hangs or is gone)", e);
    } catch (EOFException e) {
      throw e;
    } catch (IOException e) {
      throw new IOException("ring: lost rank " + (rank + world - 1) % world + ": " + e.getMessage(), e);
    }
  }

  private void requireLength(float[] data, float[] shard) {
    if (data.length != (long) shard.length * world) {
      throw new IllegalArgumentException("data of " + data.length + " floats is not " + world + " shards of " + shard.length);
    }
  }

  @Override
  public void close() throws IOException {
    sender.shutdownNow();
    right.close();
    left.close();
  }

  /** A send that may fail with an IOException, run on the sender thread or inline. */
  @FunctionalInterface
  private interface IoTask extends java.util.concurrent.Callable<Void> {
    void io() throws IOException;

    @Override
    default Void call() throws IOException {
      io();
      return null;
    }
  }
}
