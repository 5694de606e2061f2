package dev.kiln.cli.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorkdirLockTest {

  @TempDir
  Path dir;

  @Test
  void aSecondRunOfTheSameWorkdirIsRefusedUntilTheFirstLetsGo() throws Exception {
    try (WorkdirLock first = WorkdirLock.take(dir)) {
      assertThatThrownBy(() -> WorkdirLock.take(dir)).isInstanceOf(LocalRun.CannotRun.class)
          .hasMessage(dir + " is in use by another kiln run (pid " + ProcessHandle.current().pid() + "): wait for it to"
              + " end, stop it (kill " + ProcessHandle.current().pid() + "; it stops its cluster), or give this run"
              + " another --workdir");
    }
    try (WorkdirLock again = WorkdirLock.take(dir)) {
      assertThat(dir.resolve(WorkdirLock.FILE)).hasContent(Long.toString(ProcessHandle.current().pid()));
    }
  }
}
