package dev.kiln.trainer.parallel;

import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaFreeHost;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaMalloc;
import static org.bytedeco.cuda.global.cudart.cudaMallocHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyAsync;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyHostToDevice;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreate;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;
import static org.bytedeco.cuda.global.nccl.ncclAllGather;
import static org.bytedeco.cuda.global.nccl.ncclAllReduce;
import static org.bytedeco.cuda.global.nccl.ncclBroadcast;
import static org.bytedeco.cuda.global.nccl.ncclCommDestroy;
import static org.bytedeco.cuda.global.nccl.ncclCommInitRank;
import static org.bytedeco.cuda.global.nccl.ncclFloat32;
import static org.bytedeco.cuda.global.nccl.ncclGetErrorString;
import static org.bytedeco.cuda.global.nccl.ncclGetUniqueId;
import static org.bytedeco.cuda.global.nccl.ncclReduceScatter;
import static org.bytedeco.cuda.global.nccl.ncclSum;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Base64;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.nccl.ncclComm;
import org.bytedeco.cuda.nccl.ncclUniqueId;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Collectives on GPUs through NCCL, bootstrapped by sending rank 0's NCCL unique id through the
 * {@link RendezvousStore}. Staged through host memory (DJL exposes no device pointers): each call
 * copies through a pinned host buffer to a device buffer, runs the NCCL operation on its own
 * stream, and copies back. Checked on one GPU (bindings, bootstrap, copies, sums at world 1);
 * NOT yet between GPUs, though GPU stages use it unless they set {@code collectives: Tcp};
 * {@code scripts/gpu-nccl-check.sh} checks it on a machine with two GPUs or more.
 */
public final class NcclCollectives implements Collectives {

  static final int UNIQUE_ID_BYTES = 128;

  private final int rank;
  private final int world;
  private final ncclComm comm;
  private final CUstream_st stream;
  private Pointer device = new Pointer();
  private Pointer pinned = new Pointer();
  private MemorySegment staging;
  private long capacity;

  private NcclCollectives(int rank, int world, ncclComm comm, CUstream_st stream) {
    this.rank = rank;
    this.world = world;
    this.comm = comm;
    this.stream = stream;
  }

  /** Joins the NCCL communicator of {@code world} ranks on GPU {@code localRank} of this node. */
  public static NcclCollectives connect(RendezvousStore store, int rank, int world, int localRank) throws IOException {
    cuda(cudaSetDevice(localRank), "cudaSetDevice " + localRank);
    ncclUniqueId id = new ncclUniqueId();
    byte[] bytes = new byte[UNIQUE_ID_BYTES];
    if (rank == 0) {
      nccl(ncclGetUniqueId(id), "ncclGetUniqueId");
      id.internal().get(bytes);
      store.set("nccl/unique-id", Base64.getEncoder().encodeToString(bytes));
    } else {
      bytes = Base64.getDecoder().decode(store.get("nccl/unique-id"));
      id.internal().put(bytes);
    }
    ncclComm comm = new ncclComm();
    nccl(ncclCommInitRank(comm, world, id, rank), "ncclCommInitRank");
    CUstream_st stream = new CUstream_st();
    cuda(cudaStreamCreate(stream), "cudaStreamCreate");
    return new NcclCollectives(rank, world, comm, stream);
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
    Pointer buffer = upload(data, floats);
    nccl(ncclAllReduce(buffer, buffer, floats, ncclFloat32, ncclSum, comm, stream), "ncclAllReduce");
    download(buffer, data);
  }

  @Override
  public void reduceScatter(MemorySegment data, MemorySegment shard) throws IOException {
    long floats = data.byteSize() / 4;
    Pointer buffer = upload(data, floats + shard.byteSize() / 4);
    Pointer target = after(buffer, floats);
    nccl(ncclReduceScatter(buffer, target, shard.byteSize() / 4, ncclFloat32, ncclSum, comm, stream), "ncclReduceScatter");
    download(target, shard);
  }

  @Override
  public void allGather(MemorySegment shard, MemorySegment data) throws IOException {
    long shardFloats = shard.byteSize() / 4;
    Pointer buffer = upload(shard, shardFloats + data.byteSize() / 4);
    Pointer target = after(buffer, shardFloats);
    nccl(ncclAllGather(buffer, target, shardFloats, ncclFloat32, comm, stream), "ncclAllGather");
    download(target, data);
  }

  @Override
  public void broadcast(MemorySegment data, int root) throws IOException {
    long floats = data.byteSize() / 4;
    Pointer buffer = upload(data, floats);
    nccl(ncclBroadcast(buffer, buffer, floats, ncclFloat32, root, comm, stream), "ncclBroadcast");
    download(buffer, data);
  }

  @Override
  public void barrier() throws IOException {
    allReduce(new float[] {1});
  }

  /** The device address {@code floats} floats into {@code buffer} (never dereferenced in Java). */
  private static Pointer after(Pointer buffer, long floats) {
    return new FloatPointer(buffer).position(floats);
  }

  /**
   * Grows the device buffer, and the pinned host buffer every copy goes through, to at least
   * {@code floats} floats. Both are kept: a step reuses the same sizes.
   */
  private void reserve(long floats) throws IOException {
    if (floats <= capacity) {
      return;
    }
    release();
    device = new Pointer();
    pinned = new Pointer();
    cuda(cudaMalloc(device, 4 * floats), "cudaMalloc " + 4 * floats);
    cuda(cudaMallocHost(pinned, 4 * floats), "cudaMallocHost " + 4 * floats);
    staging = MemorySegment.ofAddress(pinned.address()).reinterpret(4 * floats);
    capacity = floats;
  }

  /** Copies {@code values} to the start of a device buffer of at least {@code floats} floats. */
  private Pointer upload(MemorySegment values, long floats) throws IOException {
    reserve(floats);
    MemorySegment.copy(values, 0, staging, 0, values.byteSize());
    cuda(cudaMemcpyAsync(device, pinned, values.byteSize(), cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync to the GPU");
    return device;
  }

  private void download(Pointer from, MemorySegment into) throws IOException {
    cuda(cudaMemcpyAsync(pinned, from, into.byteSize(), cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync from the GPU");
    cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    MemorySegment.copy(staging, 0, into, 0, into.byteSize());
  }

  private void release() {
    if (capacity > 0) {
      cudaFree(device);
      cudaFreeHost(pinned);
      capacity = 0;
    }
  }

  private static void cuda(int status, String what) throws IOException {
    if (status != 0) {
      throw new IOException("cuda: " + what + " failed: " + cudaGetErrorString(status).getString());
    }
  }

  private static void nccl(int status, String what) throws IOException {
    if (status != 0) {
      throw new IOException("nccl: " + what + " failed: " + ncclGetErrorString(status).getString());
    }
  }

  @Override
  public void close() {
    ncclCommDestroy(comm);
    cudaStreamDestroy(stream);
    release();
  }
}
