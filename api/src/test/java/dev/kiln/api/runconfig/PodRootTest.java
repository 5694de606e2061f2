package dev.kiln.api.runconfig;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class PodRootTest {

  @Test
  void aPathThePodRecordsIsTheOneItSawWhereverItsRootIs() {
    PodRoot here = new PodRoot(Path.of("/var/lib/kiln/pods/a1/root"));
    PodRoot there = new PodRoot(Path.of("/tmp/other/pods/b2/root"));
    Path shard = here.resolve("/kiln/data/shapes/captions-000001.tar");

    assertThat(shard).isEqualTo(Path.of("/var/lib/kiln/pods/a1/root/kiln/data/shapes/captions-000001.tar"));
    assertThat(here.podPath(shard)).isEqualTo("/kiln/data/shapes/captions-000001.tar");
    assertThat(there.podPath(there.resolve("/kiln/data/shapes/captions-000001.tar"))).isEqualTo(here.podPath(shard));
    assertThat(PodRoot.identity().podPath(Path.of("/kiln/data/x.tar"))).isEqualTo("/kiln/data/x.tar");
    assertThat(here.podPath(Path.of("/elsewhere/x.tar"))).as("outside the root: as it is").isEqualTo("/elsewhere/x.tar");
  }
}
