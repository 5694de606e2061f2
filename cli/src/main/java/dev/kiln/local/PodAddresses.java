package dev.kiln.local;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Gives each local pod its own loopback address (127.0.1.1, 127.0.1.2, ...; Linux routes all of
 * 127.0.0.0/8 to the loopback device), the way a cluster's network gives each pod its own IP: two
 * pods may then listen on the same port (the rendezvous, the progress endpoint) without meeting.
 * Addresses are never reused while the local cluster runs.
 */
final class PodAddresses {

  private final Map<String, String> byPod = new ConcurrentHashMap<>();
  private int next = 1;

  /** The pod's address, given on first use. */
  synchronized String of(String podUid) {
    return byPod.computeIfAbsent(podUid, uid -> address(next++));
  }

  /** The n-th address from 127.0.1.1, skipping the .0 and .255 of each /24 (n from 1). */
  static String address(int n) {
    int perBlock = 254;
    int block = (n - 1) / perBlock;
    int host = (n - 1) % perBlock + 1;
    int second = block / 255;
    int third = block % 255 + 1;
    if (second > 255) {
      throw new IllegalStateException("out of loopback addresses after " + n + " pods");
    }
    return "127." + second + "." + third + "." + host;
  }
}
