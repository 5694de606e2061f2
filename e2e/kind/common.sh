#!/usr/bin/env bash
# Shared by the KinD scripts: names, and the check that says what is missing.
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file
KIND_CLUSTER="${KIND_CLUSTER:-kiln}"
KILN_NAMESPACE="${KILN_NAMESPACE:-kiln-system}"
JOBS_NAMESPACE="${JOBS_NAMESPACE:-default}"
GPU_PRODUCT="${GPU_PRODUCT:-NVIDIA-H100-80GB-HBM3}"
GPUS_PER_NODE="${GPUS_PER_NODE:-8}"
# The label e2e/kind/cluster.yaml puts on the workers that get fake GPUs (and the GPU taint).
FAKE_GPU_LABEL="kiln.dev/fake-gpus"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
IMAGES="${IMAGES:-$ROOT/target/images}"

log() { printf 'kind: %s\n' "$*" >&2; }
die() { printf 'kind: %s\n' "$*" >&2; exit 1; }

# need COMMAND WHAT-TO-DO: stops with a message when COMMAND is not on the PATH.
need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is missing: $2"
}

require_tools() {
  need docker "install Docker (or Podman with KIND_EXPERIMENTAL_PROVIDER=podman): https://docs.docker.com/engine/install/"
  docker info >/dev/null 2>&1 || die "the docker command cannot reach a container engine (is the daemon running, may this user use it?)"
  need kind "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
  need kubectl "install kubectl: https://kubernetes.io/docs/tasks/tools/"
  need helm "install Helm 3: https://helm.sh/docs/intro/install/"
}

kubectl_kind() { kubectl --context "kind-$KIND_CLUSTER" "$@"; }
