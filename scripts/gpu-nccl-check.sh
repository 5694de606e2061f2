#!/usr/bin/env bash
# Checks Kiln's NCCL collectives where there are two GPUs or more (they could not be run where
# Kiln is built): two ranks, one per GPU, must all-reduce correctly, and the bus bandwidth is
# printed next to the CPU ring's. Until this passes on real hardware the trainer uses NCCL only
# when asked (KILN_COLLECTIVES=nccl); the TCP ring stays the default.
#
#   scripts/gpu-nccl-check.sh
#
# Needs the CUDA runtime and libnccl on the library path (the trainer image carries them).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
nvidia-smi --query-gpu=index,name --format=csv
gpus=$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)
[[ "$gpus" -ge 2 ]] || { echo "FAIL: NCCL needs two GPUs or more, found $gpus"; exit 1; }

nccl=$(./kiln bench collectives --backend nccl --megabytes 64 --repeats 5)
echo "nccl: $nccl"
grep -q '"correct":true' <<<"$nccl" || { echo "FAIL: NCCL all-reduce gave wrong sums"; exit 1; }
echo "ok: NCCL all-reduce correct on 2 GPUs; bandwidth above (tcp ring for comparison: ./kiln bench collectives)"
