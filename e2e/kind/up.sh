#!/usr/bin/env bash
# Kiln on a real API server, on one machine: a KinD cluster (one control plane, two workers with
# fake GPUs), Kiln's images loaded into it, the chart installed, and the quickstart job run to
# Succeeded. On failure it prints the job's status, the events and the operator's log.
#
#   ./build images && e2e/kind/up.sh        then: kubectl --context kind-kiln get mpj
#   e2e/kind/down.sh                        deletes the cluster
#
# Needs docker (or podman), kind, kubectl and helm; says which is missing. Not part of CI: the
# machines Kiln is built on have no container engine.
set -euo pipefail
# shellcheck source=e2e/kind/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_tools
version="$("$ROOT/scripts/app-version.sh")"
for image in kiln-operator kiln-trainer kiln-data-jobs; do
  [[ -f "$IMAGES/$image-$version.tar" ]] || die "$IMAGES/$image-$version.tar is missing: run ./build images first"
done

if kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
  log "cluster kind-$KIND_CLUSTER exists; reusing it"
else
  log "creating cluster kind-$KIND_CLUSTER"
  kind create cluster --name "$KIND_CLUSTER" --config "$ROOT/e2e/kind/cluster.yaml" --wait 120s
fi
"$ROOT/e2e/kind/fake-gpus.sh"

for image in kiln-operator kiln-trainer kiln-data-jobs; do
  log "loading $image $version"
  kind load image-archive "$IMAGES/$image-$version.tar" --name "$KIND_CLUSTER"
done

# Helm installs crds/ on the first install only, never on upgrade: apply them so a changed CRD lands.
log "applying the CRDs"
kubectl_kind apply --server-side --force-conflicts -f "$ROOT/charts/kiln/crds/"
log "installing the chart into $KILN_NAMESPACE"
helm --kube-context "kind-$KIND_CLUSTER" upgrade --install kiln "$ROOT/charts/kiln" \
  --namespace "$KILN_NAMESPACE" --create-namespace --skip-crds --wait --timeout 5m

dump() {
  log "the job did not succeed; its status, the events and the operator's log follow"
  kubectl_kind -n "$JOBS_NAMESPACE" get mpj quickstart -o yaml || true
  kubectl_kind -n "$JOBS_NAMESPACE" get events --sort-by=.lastTimestamp | tail -n 40 || true
  kubectl_kind -n "$JOBS_NAMESPACE" get pods -o wide || true
  kubectl_kind -n "$KILN_NAMESPACE" logs deployment/kiln --tail 100 || true
}

log "applying examples/cluster-quickstart.yaml (it writes its own sample data)"
kubectl_kind -n "$JOBS_NAMESPACE" apply -f "$ROOT/examples/cluster-quickstart.yaml"
if ! kubectl_kind -n "$JOBS_NAMESPACE" wait --for=jsonpath='{.status.phase}'=Succeeded mpj/quickstart --timeout=45m; then
  dump
  exit 1
fi
kubectl_kind -n "$JOBS_NAMESPACE" get mpj quickstart
log "the quickstart succeeded on kind-$KIND_CLUSTER"
