#!/usr/bin/env bash
# Pushes Kiln's images and its Helm chart to one OCI registry:
#   REGISTRY/kiln-operator:VERSION, REGISTRY/kiln-trainer:VERSION, REGISTRY/kiln-data-jobs:VERSION
#     every archive in target/images (./build images writes them), with skopeo; each manifest is pushed
#     unchanged, so the registry serves the digest the archive holds (printed as REFERENCE@DIGEST)
#   oci://REGISTRY/kiln, the chart's version from charts/kiln/Chart.yaml, with Helm's own library
# Then: helm install kiln oci://REGISTRY/kiln --version VERSION --set images.registry=REGISTRY
#
#   scripts/publish.sh registry.example.com/ml
#   scripts/publish.sh --plain-http 127.0.0.1:5000/ml        a registry without TLS (loopback)
#   scripts/publish.sh --images DIR --chart DIR REGISTRY      other archives or another chart
#
# Needs skopeo (Debian and Ubuntu: apt-get install skopeo); no helm binary. Credentials: the images'
# from `skopeo login HOST` (or Docker's ~/.docker/config.json), the chart's from Helm's registry login
# file ~/.config/helm/registry/config.json (Docker's format, what `helm registry login` writes).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/java-env.sh
source "$ROOT/scripts/java-env.sh"

command -v skopeo >/dev/null || { echo "publish: needs skopeo (Debian and Ubuntu: apt-get install skopeo)" >&2; exit 1; }

lib="$ROOT/images/target/publish-lib"
"$ROOT/mvnw" -q -B -ntp -f "$ROOT/pom.xml" -pl images compile dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$lib" >&2
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Dkiln.home="$ROOT" -cp "$ROOT/images/target/classes:$lib/*" \
  dev.kiln.images.registry.Publisher "$@"
