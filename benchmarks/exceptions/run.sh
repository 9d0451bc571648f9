#!/usr/bin/env bash
# Exception-handling cost under Kiln: ns per loop iteration of eh-cost.wat's three loops
# (start-up subtracted by timing two iteration counts). Usage: benchmarks/exceptions/run.sh [kiln]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kiln=${1:-$here/../../.build/release/kiln}
for loop in plain guarded throwing; do
  small=1000000; large=11000000
  [ $loop = throwing ] && { small=100000; large=1100000; }
  t() { local s e; s=$(date +%s%N); "$kiln" run "$here/eh-cost.wat" --invoke $loop $1 >/dev/null; e=$(date +%s%N); echo $((e - s)); }
  best() { local b=999999999999; for _ in 1 2 3; do local x; x=$(t $1); [ $x -lt $b ] && b=$x; done; echo $b; }
  a=$(best $small); b=$(best $large)
  echo "$loop: $(( (b - a) / (large - small) )) ns per iteration"
done
