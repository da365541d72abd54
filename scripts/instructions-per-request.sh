#!/usr/bin/env bash
# Instructions per request of the gateway's whole chain and of the backend alone, counted by
# callgrind (exact and independent of machine load, unlike wall-clock figures):
#   scripts/instructions-per-request.sh [APIS]
# Runs benches/examples/request_loop.rs at two request counts and divides the difference by the
# difference in requests, so start-up (runtime, RSA key parsing, snapshot) drops out. Each count
# covers client + server + backend on one thread; gateway − direct is the gateway's own cost.
set -euo pipefail
cd "$(dirname "$0")/.."
apis="${1:-1}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p tollgate-benches --example request_loop
bin="$target/release/examples/request_loop"
out="$(mktemp -d)"
count() { # what n → total instructions
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1.$2" "$bin" "$1" "$2" "$apis" 2>/dev/null
    awk '/^summary:/ {print $2}' "$out/cg.$1.$2"
}
low=500; high=2500
for what in direct gateway; do
    a=$(count "$what" "$low"); b=$(count "$what" "$high")
    echo "$what: $(( (b - a) / (high - low) )) instructions per request ($apis API(s) deployed)"
done
echo "callgrind files (for callgrind_annotate): $out"
