package dev.kiln.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

/** Each local pod has its own loopback address, so two pods can listen on one port. */
class PodAddressesTest {

  @Test
  void addressesAreDistinctStableAndSkipNetworkAndBroadcastOctets() {
    PodAddresses addresses = new PodAddresses();
    assertThat(addresses.of("pod-a")).isEqualTo("127.0.1.1");
    assertThat(addresses.of("pod-b")).isEqualTo("127.0.1.2");
    assertThat(addresses.of("pod-a")).as("stable").isEqualTo("127.0.1.1");
    assertThat(PodAddresses.address(254)).isEqualTo("127.0.1.254");
    assertThat(PodAddresses.address(255)).isEqualTo("127.0.2.1");
    assertThat(PodAddresses.address(254 * 255 + 1)).isEqualTo("127.1.1.1");
  }

  @Test
  void twoPodsListenOnTheSamePortAtTheirOwnAddresses() throws Exception {
    PodAddresses addresses = new PodAddresses();
    try (ServerSocket first = new ServerSocket(); ServerSocket second = new ServerSocket()) {
      first.bind(new InetSocketAddress(InetAddress.getByName(addresses.of("a")), 0));
      second.bind(new InetSocketAddress(InetAddress.getByName(addresses.of("b")), first.getLocalPort()));
      assertThat(second.getLocalPort()).isEqualTo(first.getLocalPort());
    }
  }
}
