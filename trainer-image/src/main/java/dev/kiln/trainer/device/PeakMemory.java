package dev.kiln.trainer.device;

import dev.kiln.model.ComputeDevice;
import ai.djl.util.cuda.CudaUtils;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The most memory a rank has held, measured, so that every run checks the memory model ({@code
 * kiln estimate}): on the CPU the trainer process's peak resident set (VmHWM: every rank the
 * process runs, the JVM's heap and libtorch's tensors); on a GPU the most device memory seen in
 * use after a micro-batch's backward. libtorch's caching allocator keeps what it reserved, so
 * that sample sees the step's peak; it also counts other processes on the GPU. The GPU path is
 * UNVERIFIED (see {@link ComputeDevice}).
 */
public final class PeakMemory {

  private static final Path STATUS = Path.of("/proc/self/status");

  private final ComputeDevice device;
  private long gpuPeak;

  public PeakMemory(ComputeDevice device) {
    this.device = device;
  }

  /** Notes the GPU's memory in use now; nothing to do on the CPU, whose peak the kernel keeps. */
  public void sample() {
    if (device.gpu()) {
      gpuPeak = Math.max(gpuPeak, CudaUtils.getGpuMemory(device.device()).getUsed());
    }
  }

  /** Bytes at the peak so far; 0 where the platform does not say (no /proc). */
  public long bytes() {
    return device.gpu() ? gpuPeak : residentPeak();
  }

  /** The process's resident set now, 0 where there is no /proc. */
  public static long resident() {
    return status("VmRSS:");
  }

  /** The process's peak resident set, 0 where there is no /proc. */
  public static long residentPeak() {
    return status("VmHWM:");
  }

  private static long status(String field) {
    if (!Files.isReadable(STATUS)) {
      return 0;
    }
    try {
      for (String line : Files.readAllLines(STATUS)) {
        if (line.startsWith(field)) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
      return 0;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
