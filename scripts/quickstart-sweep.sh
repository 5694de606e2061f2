#!/usr/bin/env bash
# The quickstart over seeds and CPU kernel levels: does the recipe in miniature learn on any CPU?
# Each run is the README's `./kiln run examples/quickstart.yaml` with spec.seed set and libtorch's
# (ATEN_CPU_CAPABILITY) and MKL's (MKL_ENABLE_INSTRUCTIONS) kernels pinned to one level; levels the
# CPU lacks are skipped, not faked. Prints one line per run and the spread of each column.
#   scripts/quickstart-sweep.sh [--seeds "1 2 3 4 5"] [--kernels "default avx2 avx512"] [--out DIR] [FILE]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seeds="1 2 3 4 5"
kernels="default avx2 avx512"
out="$ROOT/.kiln/sweep"
file="$ROOT/examples/quickstart.yaml"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --kernels) kernels="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) file="$1"; shift ;;
  esac
done
mkdir -p "$out"
flags="$(grep -m1 '^flags' /proc/cpuinfo)"
results="$out/results.tsv"
printf 'seed\tkernels\tphase\taccuracy\tblind\tchance\tcolor\tshape\tside\tpretrain_loss\tsft_loss\tseconds\n' > "$results"
for kernel in $kernels; do
  case "$kernel" in
    default) aten=default mkl=SSE4_2 need="" ;;
    avx2) aten=avx2 mkl=AVX2 need=avx2 ;;
    avx512) aten=avx512 mkl=AVX512 need=avx512f ;;
    *) echo "unknown kernel level $kernel (default, avx2, avx512)" >&2; exit 2 ;;
  esac
  if [[ -n "$need" && " $flags " != *" $need "* ]]; then
    echo "kernels $kernel: skipped, this CPU lacks $need" >&2
    continue
  fi
  for seed in $seeds; do
    run="$out/$kernel-seed$seed"
    rm -rf "$run"
    mkdir -p "$run"
    sed "s/^spec:\$/spec:\n  seed: $seed/" "$file" > "$run/job.yaml"
    ATEN_CPU_CAPABILITY=$aten MKL_ENABLE_INSTRUCTIONS=$mkl "$ROOT/kiln" run "$run/job.yaml" --workdir "$run/workdir" \
      > "$run/kiln-run.log" 2>&1 || true
    python3 - "$run/workdir/summary.json" "$seed" "$kernel" >> "$results" <<'PY'
import json, sys
path, seed, kernel = sys.argv[1:4]
try:
    s = json.load(open(path))
except OSError:
    print(f"{seed}\t{kernel}\tNoSummary" + "\t-" * 9); sys.exit()
e = s.get("eval") or {}
st = {x["name"]: x for x in s.get("stages", [])}
f = lambda v: "-" if v is None else f"{v:.3f}"
by = e.get("byQuestion") or [None] * 3
print("\t".join([seed, kernel, s["phase"], f(e.get("accuracy")), f(e.get("blind")), f(e.get("chance")),
    *[f(v) for v in by], f(st.get("pretrain", {}).get("loss")), f(st.get("sft", {}).get("loss")), f"{s['seconds']:.0f}"]))
PY
    tail -n 1 "$results"
  done
done
python3 - "$results" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1]), delimiter="\t") if r["accuracy"] != "-"]
if rows:
    for col in ["accuracy", "blind", "pretrain_loss", "sft_loss", "seconds"]:
        v = [float(r[col]) for r in rows]
        print(f"{col:14s} min {min(v):.3f}  mean {sum(v) / len(v):.3f}  max {max(v):.3f}  ({len(v)} runs)")
PY
echo "table: $results"
