package dev.kiln.local;

import com.sun.management.OperatingSystemMXBean;
import java.lang.management.ManagementFactory;

/** What each local node offers: this machine's cores and memory, as a kubelet reports its node's. */
final class HostCapacity {

  private HostCapacity() {}

  static int cores() {
    return Runtime.getRuntime().availableProcessors();
  }

  static long memoryBytes() {
    return ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
  }
}
