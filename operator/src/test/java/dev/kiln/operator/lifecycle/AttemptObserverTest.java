package dev.kiln.operator.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class AttemptObserverTest {

  @Test
  void theCauseIsTheLastLineThatIsNotAStackFrame() {
    String log = """
        step 10 loss 2.31
        Exception in thread "main" java.lang.IllegalStateException: wrapper
        \tat dev.kiln.trainer.TrainerMain.main(TrainerMain.java:40)
        Caused by: java.nio.file.NoSuchFileException: /kiln/workspace/data/packed/pretrain/manifest.json
        \tat java.base/sun.nio.fs.UnixException.translateToIOException(UnixException.java:92)
        \t... 3 more

        """;

    assertThat(AttemptObserver.causeLine(log))
        .isEqualTo("Caused by: java.nio.file.NoSuchFileException: /kiln/workspace/data/packed/pretrain/manifest.json");
    assertThat(AttemptObserver.causeLine("pack: too much bad input\n")).isEqualTo("pack: too much bad input");
    assertThat(AttemptObserver.causeLine("\tat only.Frames(X.java:1)")).isEqualTo("at only.Frames(X.java:1)");
  }
}
