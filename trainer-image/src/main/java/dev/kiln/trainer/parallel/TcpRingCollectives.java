package dev.kiln.trainer.parallel;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
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
 * <p>Socket channels read and write the callers' native memory directly: a chunk is sent from
 * the data itself, received straight into it when copied (all-gather), or into a 1 MiB scratch
 * buffer and added from there (reduce-scatter). Every wait, sending as well as receiving, is
 * bounded by the timeout.
 *
 * <p>In-JVM Gloo cannot sit next to DJL's libtorch, and MPI needs a launcher that pods lack,
 * which is why this is plain Java. NCCL for GPUs is {@link NcclCollectives}.
 */
public final class TcpRingCollectives implements Collectives {

  static final int SLICE_BYTES = 1 << 20;

  private final int rank;
  private final int world;
  private final SocketChannel right;
  private final SocketChannel left;
  private final Selector writable;
  private final Selector readable;
  private final ExecutorService sender;
  private final long timeoutMillis;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment scratch = arena.allocate(SLICE_BYTES, 64);

  private TcpRingCollectives(int rank, int world, SocketChannel right, SocketChannel left, Duration timeout)
      throws IOException {
    this.rank = rank;
    this.world = world;
    this.right = right;
    this.left = left;
    this.timeoutMillis = timeout.toMillis();
    this.writable = Selector.open();
    this.readable = Selector.open();
    right.configureBlocking(false);
    left.configureBlocking(false);
    right.register(writable, SelectionKey.OP_WRITE);
    left.register(readable, SelectionKey.OP_READ);
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
    try (ServerSocketChannel listener = ServerSocketChannel.open()) {
      listener.bind(new InetSocketAddress(0));
      store.set("ring/" + rank, address + ":" + ((InetSocketAddress) listener.getLocalAddress()).getPort());
      String next = store.get("ring/" + (rank + 1) % world);
      int colon = next.lastIndexOf(':');
      SocketChannel right = SocketChannel.open();
      right.socket().connect(new InetSocketAddress(next.substring(0, colon), Integer.parseInt(next.substring(colon + 1))),
          (int) timeout.toMillis());
      SocketChannel left = accept(listener, timeout);
      if (left == null) {
        right.close();
        throw new RendezvousStore.RendezvousTimeoutException("ring: rank " + (rank + world - 1) % world
            + " did not connect within " + timeout.toSeconds() + " s");
      }
      for (SocketChannel channel : new SocketChannel[] {right, left}) {
        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        channel.setOption(StandardSocketOptions.SO_SNDBUF, 4 << 20);
        channel.setOption(StandardSocketOptions.SO_RCVBUF, 4 << 20);
      }
      TcpRingCollectives ring = new TcpRingCollectives(rank, world, right, left, timeout);
      ring.barrier();
      return ring;
    }
  }

  private static SocketChannel accept(ServerSocketChannel listener, Duration timeout) throws IOException {
    listener.configureBlocking(false);
    try (Selector selector = Selector.open()) {
      listener.register(selector, SelectionKey.OP_ACCEPT);
      long deadline = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < deadline) {
        selector.select(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
        SocketChannel accepted = listener.accept();
        if (accepted != null) {
          accepted.configureBlocking(true);
          return accepted;
        }
      }
      return null;
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
  public void allReduce(MemorySegment data) throws IOException {
    long floats = data.byteSize() / 4;
    long chunk = (floats + world - 1) / world;
    reduceScatterRing(data, chunk);
    allGatherRing(data, chunk);
  }

  @Override
  public void reduceScatter(MemorySegment data, MemorySegment shard) throws IOException {
    requireSizes(data, shard);
    reduceScatterRing(data, shard.byteSize() / 4);
    MemorySegment.copy(data, rank * shard.byteSize(), shard, 0, shard.byteSize());
  }

  @Override
  public void allGather(MemorySegment shard, MemorySegment data) throws IOException {
    requireSizes(data, shard);
    MemorySegment.copy(shard, 0, data, rank * shard.byteSize(), shard.byteSize());
    allGatherRing(data, shard.byteSize() / 4);
  }

  @Override
  public void broadcast(MemorySegment data, int root) throws IOException {
    int next = (rank + 1) % world;
    if (rank != root) {
      receive(data, false);
    }
    if (next != root) {
      send(data).io();
    }
  }

  @Override
  public void barrier() throws IOException {
    allReduce(new float[] {1});
  }

  /** After it, rank r holds the sum of chunk r; chunk i is floats [i*chunk, (i+1)*chunk) cut to the size. */
  private void reduceScatterRing(MemorySegment data, long chunk) throws IOException {
    for (int step = 0; step < world - 1; step++) {
      int sending = Math.floorMod(rank - step - 1, world);
      int receiving = Math.floorMod(rank - step - 2, world);
      exchange(chunk(data, chunk, sending), chunk(data, chunk, receiving), true);
    }
  }

  /** Rank r starts with chunk r complete; after it every rank has every chunk. */
  private void allGatherRing(MemorySegment data, long chunk) throws IOException {
    for (int step = 0; step < world - 1; step++) {
      int sending = Math.floorMod(rank - step, world);
      int receiving = Math.floorMod(rank - step - 1, world);
      exchange(chunk(data, chunk, sending), chunk(data, chunk, receiving), false);
    }
  }

  private static MemorySegment chunk(MemorySegment data, long chunkFloats, int index) {
    long from = Math.min(data.byteSize(), 4 * chunkFloats * index);
    long to = Math.min(data.byteSize(), from + 4 * chunkFloats);
    return data.asSlice(from, to - from);
  }

  private void exchange(MemorySegment outgoing, MemorySegment incoming, boolean add) throws IOException {
    Future<Void> sent = sender.submit(send(outgoing));
    receive(incoming, add);
    try {
      sent.get();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  private IoTask send(MemorySegment data) {
    return () -> {
      ByteBuffer buffer = data.asByteBuffer();
      try {
        while (buffer.hasRemaining()) {
          if (right.write(buffer) == 0 && !ready(writable)) {
            throw new IOException("ring: rank " + (rank + 1) % world + " took nothing for " + timeoutMillis / 1000
                + " s (it hangs or is gone)");
          }
        }
      } catch (IOException e) {
        throw new IOException("ring: cannot send to rank " + (rank + 1) % world + " (it stopped or failed): "
            + e.getMessage(), e);
      }
    };
  }

  /** Receives {@code data}'s bytes from the left: straight into it, or through the scratch buffer and added to it. */
  private void receive(MemorySegment data, boolean add) throws IOException {
    if (!add) {
      readFully(data.asByteBuffer());
      return;
    }
    for (long done = 0; done < data.byteSize(); done += SLICE_BYTES) {
      long bytes = Math.min(SLICE_BYTES, data.byteSize() - done);
      readFully(scratch.asSlice(0, bytes).asByteBuffer());
      MemorySegment target = data.asSlice(done, bytes);
      for (long at = 0; at < bytes; at += 4) {
        target.set(FLOAT, at, target.get(FLOAT, at) + scratch.get(FLOAT, at));
      }
    }
  }

  private void readFully(ByteBuffer into) throws IOException {
    String peer = "rank " + (rank + world - 1) % world;
    try {
      while (into.hasRemaining()) {
        int n = left.read(into);
        if (n < 0) {
          throw new IOException("ring: " + peer + " closed the connection (it stopped or failed)");
        }
        if (n == 0 && !ready(readable)) {
          throw new IOException("ring: nothing from " + peer + " for " + timeoutMillis / 1000 + " s (it hangs or is gone)");
        }
      }
    } catch (IOException e) {
      throw e.getMessage() != null && e.getMessage().startsWith("ring: ") ? e
          : new IOException("ring: lost " + peer + ": " + e.getMessage(), e);
    }
  }

  /** Waits until the selector's channel can go on; false after the timeout. */
  private boolean ready(Selector selector) throws IOException {
    int ready = selector.select(timeoutMillis);
    selector.selectedKeys().clear();
    return ready > 0;
  }

  private void requireSizes(MemorySegment data, MemorySegment shard) {
    if (data.byteSize() != shard.byteSize() * world) {
      throw new IllegalArgumentException("data of " + data.byteSize() / 4 + " floats is not " + world + " shards of "
          + shard.byteSize() / 4);
    }
  }

  @Override
  public void close() throws IOException {
    sender.shutdownNow();
    try {
      right.close();
      left.close();
      writable.close();
      readable.close();
    } finally {
      arena.close();
    }
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
