#!/usr/bin/env bash
# Checks Kiln's NCCL collectives on a GPU machine (they cannot run where Kiln is built): one rank
# per GPU, up to 8, must all-reduce correctly, and the bus bandwidth is printed. With one GPU only
# the bindings, the unique-id bootstrap and the copies are checked (NCCL refuses two ranks on one
# GPU). GPU stages use NCCL unless they set `collectives: Tcp`; until this passes with two GPUs or
# more, that default is unverified.
#
#   scripts/gpu-nccl-check.sh
#
# Needs libcudart.so.13 and libnccl.so.2 on the library path (the trainer image carries them).
# KILN_TRAINER: the trainer's entry point where there is no Maven (scripts/trainer-bundle.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
trainer="${KILN_TRAINER:-./kiln}"
nvidia-smi --query-gpu=index,name --format=csv
gpus=$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)
ranks=$(( gpus > 8 ? 8 : gpus ))

nccl=$("$trainer" bench collectives --backend nccl --ranks "$ranks" --megabytes 64 --repeats 5)
echo "nccl: $nccl"
grep -q '"correct":true' <<<"$nccl" || { echo "FAIL: NCCL all-reduce failed or gave wrong sums"; exit 1; }
if [[ "$ranks" -lt 2 ]]; then
  echo "ok, partly: NCCL ran on 1 GPU (bindings, bootstrap, copies); the ring between GPUs needs two GPUs or more"
else
  echo "ok: NCCL all-reduce correct on $ranks GPUs; bandwidth above (tcp ring for comparison: bench collectives)"
fi
