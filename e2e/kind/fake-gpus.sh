#!/usr/bin/env bash
# Makes the KinD workers look like GPU nodes to the scheduler and to Kiln's queue: the labels GPU
# feature discovery puts on a node, the taint GPU node pools carry, and nvidia.com/gpu in the node's
# capacity and allocatable (what the NVIDIA device plugin would advertise). Nothing can use them:
# pods that request them are scheduled, admitted and counted, which is what the queue needs.
#
#   e2e/kind/fake-gpus.sh            the workers of kind-$KIND_CLUSTER labelled kiln.dev/fake-gpus=true
set -euo pipefail
# shellcheck source=e2e/kind/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need kubectl "install kubectl: https://kubernetes.io/docs/tasks/tools/"

mapfile -t workers < <(kubectl_kind get nodes -l "$FAKE_GPU_LABEL=true" -o name)
[[ ${#workers[@]} -gt 0 ]] || die "no worker labelled $FAKE_GPU_LABEL=true in kind-$KIND_CLUSTER (see e2e/kind/cluster.yaml)"
for node in "${workers[@]}"; do
  kubectl_kind label "$node" --overwrite nvidia.com/gpu.present=true "nvidia.com/gpu.product=$GPU_PRODUCT" \
    "nvidia.com/gpu.count=$GPUS_PER_NODE" >/dev/null
  kubectl_kind taint "$node" --overwrite nvidia.com/gpu=present:NoSchedule >/dev/null
  kubectl_kind patch "$node" --subresource=status --type=json -p "[
    {\"op\": \"add\", \"path\": \"/status/capacity/nvidia.com~1gpu\", \"value\": \"$GPUS_PER_NODE\"},
    {\"op\": \"add\", \"path\": \"/status/allocatable/nvidia.com~1gpu\", \"value\": \"$GPUS_PER_NODE\"}]" >/dev/null
  log "$node: $GPUS_PER_NODE x $GPU_PRODUCT (fake)"
done
