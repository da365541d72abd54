#!/usr/bin/env bash
# One seed, many processes: runs `tollgate run --driver sim --seed SEED --transcript` RUNS times,
# each in a process of its own, and counts the distinct transcript hashes (1 is the goal):
#   scripts/one-seed-many-processes.sh [RUNS] [SEED] [PATHS...]     # default: 100, 7, scenarios
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-100}"; seed="${2:-7}"; shift $(( $# > 2 ? 2 : $# )) || true
paths=("${@:-scenarios}")
cargo build -q -p tollgate-harness --bin tollgate
bin="${CARGO_TARGET_DIR:-target}/debug/tollgate"
out="$(mktemp -d)"
started=$(date +%s)
for i in $(seq 1 "$runs"); do
    "$bin" run "${paths[@]}" --driver sim --seed "$seed" --parallel 2 \
        --transcript "$out/transcript.jsonl" > "$out/run.txt" 2>/dev/null \
        || { echo "run $i failed: $out/run.txt"; exit 1; }
    sha256sum "$out/transcript.jsonl" | cut -d' ' -f1 >> "$out/hashes"
done
echo "$runs runs in $(( $(date +%s) - started )) s, $(wc -l < "$out/transcript.jsonl") lines each;" \
    "distinct transcript hashes:"
sort "$out/hashes" | uniq -c
