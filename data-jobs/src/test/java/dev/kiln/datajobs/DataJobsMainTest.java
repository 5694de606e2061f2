package dev.kiln.datajobs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.runconfig.ExitCodes;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataJobsMainTest {

  @TempDir
  Path dir;

  @Test
  void aUsageMistakeIsOneLineAndExit64() {
    var r = DataJobsTestSupport.run("pack", "--input", "x", "--seq-len", "many");

    assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
    assertThat(r.err()).isEqualTo("kiln-data pack: Invalid value for option '--seq-len': 'many' is not an int"
        + " (see kiln-data pack --help)\n");
  }

  @Test
  void aTokenizerThatIsNotOneIsOneLineNamingTheFile() throws Exception {
    Path notJson = dir.resolve("tokenizer.json");
    Files.writeString(notJson, "{ not json");
    TestShards.captions(dir.resolve("captions"), 2, 2);

    var r = DataJobsTestSupport.run("pack", "--input", dir.resolve("captions").toString(), "--output",
        dir.resolve("packed").toString(), "--tokenizer", notJson.toString(), "--seq-len", "128", "--visual-tokens",
        "16", "--image-size", "32");

    assertThat(r.exit()).isEqualTo(ExitCodes.CONFIG);
    assertThat(r.err().lines()).singleElement().asString()
        .startsWith("pack: --tokenizer " + notJson + ": cannot read tokenizer: ");
  }
}
