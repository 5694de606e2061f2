package dev.kiln.local;

import com.sun.management.OperatingSystemMXBean;
import java.lang.management.ManagementFactory;

/**
 * This machine's cores and memory, which every local pod's processes share: what the downward API
 * gives for a limit a container does not set (a real kubelet gives its node's allocatable).
 */
final class HostCapacity {

  private HostCapacity() {}

  static int cores() {
    return Runtime.getRuntime().availableProcessors();
  }

  static long memoryBytes() {
    return ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
  }
}
