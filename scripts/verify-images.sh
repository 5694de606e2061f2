#!/usr/bin/env bash
# Proves that the images of scripts/build-images.sh work, without a container engine: unpacks each
# image's layers into a folder and runs its entry point there (chroot, as uid 65532, with the
# image's environment, /proc and /dev mounted, the network of the host):
#   trainer    sample-data shapes, then one training step of the tiny preset (DJL loads libtorch)
#   data jobs  inspect on a shard the trainer image wrote
#   operator   kiln bench operator --jobs 2 with the operator process running inside its image
# Prints each image's size and the seconds each entry point took. Needs root (chroot, mount).
#
#   scripts/verify-images.sh [target/images]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGES="$(realpath "${1:-$ROOT/target/images}")"
WORK="$IMAGES/verify"
USERSPEC=65532:65532

[[ "$(id -u)" == 0 ]] || { echo "verify-images: needs root (chroot and mount)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "verify-images: needs python3 (to read the image configs)" >&2; exit 1; }
archive() {
  local file
  for file in "$IMAGES/$1"-[0-9]*.tar; do
    [[ "$file" == *-cuda.tar ]] || { echo "$file"; return; }
  done
  echo "verify-images: no $1 image in $IMAGES (run ./build images)" >&2
  exit 1
}

mounted=()
cleanup() {
  local m
  for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || true; done
}
trap cleanup EXIT

# unpack ARCHIVE DIR: DIR/rootfs holds the layers applied in order; DIR/env and DIR/entrypoint the config.
unpack() {
  local archive="$1" dir="$2" layout="$2/layout"
  rm -rf "$dir"
  mkdir -p "$layout" "$dir/rootfs"
  tar -xf "$archive" -C "$layout"
  python3 - "$layout" "$dir" <<'PY'
import json, sys, os
layout, out = sys.argv[1], sys.argv[2]
blob = lambda d: os.path.join(layout, "blobs", "sha256", d.split(":")[1])
index = json.load(open(os.path.join(layout, "index.json")))
manifest = json.load(open(blob(index["manifests"][0]["digest"])))
config = json.load(open(blob(manifest["config"]["digest"])))
open(os.path.join(out, "layers"), "w").write("\n".join(blob(l["digest"]) for l in manifest["layers"]) + "\n")
open(os.path.join(out, "env"), "w").write("\n".join(config["config"]["Env"]) + "\n")
open(os.path.join(out, "entrypoint"), "w").write("\n".join(config["config"]["Entrypoint"]) + "\n")
assert config["config"]["User"] == "65532:65532", config["config"]["User"]
PY
  while read -r layer; do tar -xzf "$layer" -C "$dir/rootfs"; done < "$dir/layers"
  rm -rf "$layout"
  mkdir -p "$dir/rootfs/proc" "$dir/rootfs/dev"
  mount -t proc proc "$dir/rootfs/proc" && mounted+=("$dir/rootfs/proc")
  mount --bind /dev "$dir/rootfs/dev" && mounted+=("$dir/rootfs/dev")
  cp /etc/resolv.conf /etc/hosts "$dir/rootfs/etc/" 2>/dev/null || true
}

# run DIR ARGS...: the image's entry point with ARGS, inside DIR/rootfs, as the image's user.
run() {
  local dir="$1"; shift
  local -a env entrypoint
  mapfile -t env < "$dir/env"
  mapfile -t entrypoint < "$dir/entrypoint"
  env -i "${env[@]}" /usr/sbin/chroot --userspec="$USERSPEC" "$dir/rootfs" "${entrypoint[@]}" "$@"
}

seconds() { local start=$1; echo "$(( $(date +%s%N) / 1000000 - start ))" | awk '{printf "%.1f", $1 / 1000}'; }
now() { echo "$(( $(date +%s%N) / 1000000 ))"; }

for image in kiln-trainer kiln-data-jobs kiln-operator; do
  echo "verify-images: $image $(du -m "$(archive "$image")" | cut -f1) MiB: $(archive "$image")"
  unpack "$(archive "$image")" "$WORK/$image"
done

start=$(now)
run "$WORK/kiln-trainer" sample-data shapes /tmp/data
echo "verify-images: kiln-trainer sample-data took $(seconds "$start") s"
start=$(now)
run "$WORK/kiln-trainer" bench trainer --preset tiny --steps 1 --seq-len 64 --batch 1
echo "verify-images: kiln-trainer one step of the tiny preset took $(seconds "$start") s"

mkdir -p "$WORK/kiln-data-jobs/rootfs/tmp/data"
cp -a "$WORK/kiln-trainer/rootfs/tmp/data/." "$WORK/kiln-data-jobs/rootfs/tmp/data/"
start=$(now)
run "$WORK/kiln-data-jobs" inspect /tmp/data/shapes/captions-000000.tar
echo "verify-images: kiln-data-jobs inspect took $(seconds "$start") s"

# The operator as its image runs it, against the local cluster of `kiln bench operator`.
operator_entrypoint="$(tr '\n' ' ' < "$WORK/kiln-operator/entrypoint")"
start=$(now)
KILN_OPERATOR_COMMAND="/usr/sbin/chroot --userspec=$USERSPEC $WORK/kiln-operator/rootfs $operator_entrypoint" \
  "$ROOT/kiln" bench operator --jobs 2 --idle-seconds 5 --releases 1 --keep 2> "$WORK/operator-bench.err" \
  || { cat "$WORK/operator-bench.err" >&2; echo "verify-images: the operator image failed the bench" >&2; exit 1; }
cluster="$(sed -n 's/.*the cluster.s folder is kept: //p' "$WORK/operator-bench.err")"
echo "verify-images: kiln-operator admitted the bench's jobs; the bench took $(seconds "$start") s;" \
  "$(grep -o 'started in [0-9.]*s' "$cluster/operator.log" | head -n 1) in its image"
rm -rf "$cluster"
echo "verify-images: all images work"
