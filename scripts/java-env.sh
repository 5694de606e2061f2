# shellcheck shell=bash
# Sourced by ./kiln and ./build: points JAVA_HOME at a JDK 25 or newer.
# Order: $JAVA_HOME if it is recent enough, then the usual install folders.

kiln_java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -n 1
}

kiln_select_java() {
  local candidate major
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk-arm64 \
      /usr/lib/jvm/*-25* /usr/lib/jvm/java-25* /opt/java/openjdk "$(dirname "$(dirname "$(readlink -f "$(command -v java 2>/dev/null || echo /nonexistent)")")")"; do
    [[ -n "$candidate" && -x "$candidate/bin/java" ]] || continue
    major="$(kiln_java_major "$candidate")"
    if [[ -n "$major" && "$major" -ge 25 ]]; then
      export JAVA_HOME="$candidate"
      return 0
    fi
  done
  echo "Kiln needs a JDK 25 or newer (Temurin 25 is what CI uses); set JAVA_HOME to one." >&2
  return 1
}

kiln_select_java
# DJL must never reach the network: offline natives only, no usage tracking.
export DJL_OFFLINE=true
export OPT_OUT_TRACKING=true
