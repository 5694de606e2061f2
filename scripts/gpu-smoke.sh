#!/usr/bin/env bash
# Smoke-tests Kiln's GPU path where there is an NVIDIA GPU (it could not be run where Kiln is built):
# DJL must load a CUDA libtorch, the model must train on the GPU, and its first loss must equal
# the CPU's for the same weights and batch.
#
#   PYTORCH_LIBRARY_PATH=/opt/libtorch/lib scripts/gpu-smoke.sh
#
# PYTORCH_LIBRARY_PATH: the lib folder of libtorch 2.7.1 built for CUDA (the trainer image ships it;
#   DJL 0.36's JNI is built against 2.7.1, and PyTorch 2.11's libtorch was measured to fail).
# KILN_TRAINER: the trainer's entry point where there is no Maven, e.g. the kiln-trainer of
#   scripts/trainer-bundle.sh; ./kiln (which builds Kiln first) when unset.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
: "${PYTORCH_LIBRARY_PATH:?set PYTORCH_LIBRARY_PATH to the lib folder of libtorch 2.7.1 for CUDA}"
export PYTORCH_FLAVOR="${PYTORCH_FLAVOR:-cu128}" PYTORCH_VERSION="${PYTORCH_VERSION:-2.7.1}"
trainer="${KILN_TRAINER:-./kiln}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv

cpu=$("$trainer" bench trainer --preset small --steps 3 --device cpu)
gpu=$("$trainer" bench trainer --preset small --steps 10 --device gpu)
echo "cpu: $cpu"
echo "gpu: $gpu"
field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1" | tr -d '"'; }
[[ "$(field "$gpu" device)" == gpu* ]] || { echo "FAIL: the benchmark did not run on the GPU"; exit 1; }
awk -v c="$(field "$cpu" first_loss)" -v g="$(field "$gpu" first_loss)" 'BEGIN {
  d = c - g; if (d < 0) d = -d;
  if (d > 1e-3 * c) { printf "FAIL: first loss cpu %s gpu %s\n", c, g; exit 1 }
  printf "ok: first loss cpu %s gpu %s; gpu tokens/s and mfu above\n", c, g }'

# The filters' model scorers (clipScore, mlmFilter) on the GPU score as on the CPU. Needs the
# source tree (Maven through ./mvnw); skipped where only KILN_TRAINER is given.
if [[ -z "${KILN_TRAINER:-}" ]]; then
  ./mvnw -B -ntp -q install -pl data-jobs -am -DskipTests
  ./mvnw -B -ntp test -pl data-jobs -Dtest=ModelFiltersGpuTest -Dkiln.excludedGroups=full-size \
    -Dsurefire.failIfNoSpecifiedTests=false
  echo "ok: the filters' model scorers on the GPU match the CPU"
fi
