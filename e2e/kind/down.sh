#!/usr/bin/env bash
# Deletes the KinD cluster e2e/kind/up.sh made.
set -euo pipefail
# shellcheck source=e2e/kind/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need kind "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
kind delete cluster --name "$KIND_CLUSTER"
