#!/usr/bin/env bash
# Assembles the trainer the way the trainer image holds it, for a GPU host that has no Maven or JDK:
#   DIR/java          a Java 25 runtime (jlink) with the modules the trainer uses
#   DIR/lib           the trainer and its libraries, without DJL's CPU libtorch (the host brings a
#                     CUDA libtorch through PYTORCH_LIBRARY_PATH) and without the tokenizers (the
#                     trainer reads tokenized shards; tokenizing is the data jobs' work)
#   DIR/kiln-trainer  the entry point (train, export, bench)
#
#   scripts/trainer-bundle.sh DIR          then copy DIR to the host and run DIR/kiln-trainer bench trainer --device gpu
#   scripts/trainer-bundle.sh DIR.tar.xz   the same as one archive
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/java-env.sh"
target="${1:?usage: scripts/trainer-bundle.sh DIR | DIR.tar.xz}"
archive=""
if [[ "$target" == *.tar.xz ]]; then
  archive="$(realpath -m "$target")"
  target="$(mktemp -d)/kiln-trainer"
fi
rm -rf "$target"
mkdir -p "$target/lib"
target="$(realpath "$target")"

(cd "$ROOT" && ./mvnw -q -B -ntp -pl trainer-image -am install -DskipTests)
(cd "$ROOT" && ./mvnw -q -B -ntp -pl trainer-image dependency:copy-dependencies -DincludeScope=runtime \
  -DexcludeArtifactIds=pytorch-native-cpu,tokenizers -DoutputDirectory="$target/lib")
cp "$ROOT"/trainer-image/target/kiln-trainer-*.jar "$target/lib/"

"$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.management,java.naming,java.sql,java.xml,java.desktop,jdk.unsupported \
  --strip-debug --no-header-files --no-man-pages --output "$target/java"

cat > "$target/kiln-trainer" <<'LAUNCHER'
#!/usr/bin/env bash
# Kiln's trainer: kiln-trainer train|export|bench ... (DJL stays offline; the host provides libtorch).
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DJL_OFFLINE=true OPT_OUT_TRACKING=true DJL_CACHE_DIR="${DJL_CACHE_DIR:-$HERE/djl-cache}"
exec "$HERE/java/bin/java" --enable-native-access=ALL-UNNAMED -cp "$HERE/lib/*" dev.kiln.trainer.TrainerMain "$@"
LAUNCHER
chmod +x "$target/kiln-trainer"

if [[ -n "$archive" ]]; then
  tar -C "$(dirname "$target")" -cJf "$archive" kiln-trainer
  rm -rf "$(dirname "$target")"
  echo "$archive"
else
  echo "$target"
fi
