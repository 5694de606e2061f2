#!/usr/bin/env bash
# What Kiln's tests need beyond a JDK, from Debian: a registry server and skopeo (the publish test
# pushes to a registry it starts on loopback), shellcheck (every shell script is checked) and lua5.4
# (the chart's Argo CD health check is run by a Lua interpreter, as Argo CD runs it).
# Installs whichever is missing, as root or through sudo; ./build test runs it first.
set -euo pipefail

missing=()
[[ -x /usr/bin/docker-registry ]] || missing+=(docker-registry)
command -v skopeo > /dev/null || missing+=(skopeo)
command -v shellcheck > /dev/null || missing+=(shellcheck)
command -v lua5.4 > /dev/null || missing+=(lua5.4)
(( ${#missing[@]} == 0 )) && exit 0

as_root=()
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo > /dev/null || {
    echo "kiln tests need the Debian packages ${missing[*]}: install them (apt-get install ${missing[*]})" >&2
    exit 1
  }
  as_root=(sudo)
fi
echo "installing what the tests need: ${missing[*]}" >&2
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
