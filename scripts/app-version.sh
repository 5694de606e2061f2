#!/usr/bin/env bash
# Prints Kiln's version as the chart declares it (appVersion): the tag ./build images gives the
# images and the chart's default image tag.
set -euo pipefail
sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/charts/kiln/Chart.yaml"
