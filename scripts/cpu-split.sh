#!/usr/bin/env bash
# Where the system under test's CPU goes on one `tollgate bench` path, per request:
#   scripts/cpu-split.sh [PATH] [CONNECTIONS]      # PATH: gateway (default), nginx, direct, …
# Runs the bench on PATH alone, samples the system-under-test CPU (1) with `perf record`
# (cpu-clock, DWARF call graphs) for 4 s in the middle of the run, and splits the samples by
# who ran (nginx; in the topology process the gateway's connections, the mock backend, the
# Traffic Manager, the runtime) and by kernel against user space, in µs per request.
#
# Needs Debian's linux-perf, python3 and a production build
# (`cargo build --profile production -p tollgate-harness --bin tollgate`, which keeps debug info
# for the call graphs); sampling a whole CPU needs root or `kernel.perf_event_paranoid` ≤ 0.
# Loopback attribution: a send runs the receiver's TCP input in the sender's softirq, so each
# side carries part of its peer's receive; it does for nginx as for the gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
path="${1:-gateway}"
connections="${2:-32}"
bin="${TOLLGATE:-target/production/tollgate}"
cpu=1
command -v perf >/dev/null || { echo "perf not found: apt-get install linux-perf" >&2; exit 1; }
[ -x "$bin" ] || { echo "$bin not built" >&2; exit 1; }
# Sampling a whole CPU takes root, or kernel.perf_event_paranoid ≤ 0.
if [ "$(id -u)" -ne 0 ] && [ "$(cat /proc/sys/kernel/perf_event_paranoid)" -gt 0 ]; then
    echo "sampling CPU $cpu needs root or 'sysctl kernel.perf_event_paranoid=0'" >&2
    exit 1
fi
out="$(mktemp -d)"
"$bin" bench --paths "$path" --connections "$connections" --duration 10s --warmup 1s \
    --rounds 1 --system-cpus "$cpu" --out "$out/bench" >"$out/bench.txt" 2>&1 &
bench=$!
# The measured round starts after the topology is up and the warm-up is over.
timeout 300 grep -q -m1 "round 1 of 1" <(tail -n +1 -f "$out/bench.txt") || {
    cat "$out/bench.txt" >&2; exit 1; }
perf record -q -C "$cpu" -e cpu-clock --call-graph dwarf,16384 -o "$out/perf.data" -- sleep 4 \
    >/dev/null 2>&1
wait "$bench"
rate=$(awk -v p="$path" '$1 == p {print $2}' "$out/bench.txt")
[ -n "$rate" ] || { cat "$out/bench.txt" >&2; exit 1; }
perf script -i "$out/perf.data" -F comm,ip,sym 2>/dev/null >"$out/stacks.txt"
python3 - "$out/stacks.txt" "$rate" "$path" "$connections" <<'EOF'
import collections, sys
stacks, rate, path, connections = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
# Task markers, matched from the root of the stack down: identical code folded by the linker
# may carry another task's name in a leaf frame, the outer frames are the task's own.
TASKS = [
    ("PassthroughService", "gateway connections"),
    ("tollgate_harness::backend", "mock backend"),
    ("traffic_manager", "Traffic Manager + event publisher"),
    # The control plane answers with axum too, but is idle while the bench runs.
    ("axum", "Traffic Manager + event publisher"),
]
def who(comm, frames):
    if comm.startswith("nginx"):
        return "nginx"
    if comm == "swapper" or comm.startswith("kworker") or comm == "perf":
        return "idle/other processes"
    for frame in reversed(frames):
        for marker, name in TASKS:
            if marker in frame:
                return name
    return "runtime, timers, rest"
split = collections.Counter()
total = 0
for sample in open(stacks).read().split("\n\n"):
    lines = [l.strip() for l in sample.strip().split("\n") if l.strip()]
    if len(lines) < 2:
        continue
    comm = lines[0].split()[0]
    kernel = lines[1].split()[0].startswith("ffffffff")
    split[(who(comm, lines[1:]), "kernel" if kernel else "user")] += 1
    total += 1
per_request = 1e6 / rate  # µs of CPU per request, the CPU being the only one serving
print(f"{path}, {connections} connections: {rate:.0f} req/s, {per_request:.1f} µs of CPU per request")
print(f"{'':36} {'kernel µs':>10} {'user µs':>10} {'share':>7}")
for name in sorted({n for n, _ in split}, key=lambda n: -(split[(n, 'kernel')] + split[(n, 'user')])):
    k, u = split[(name, "kernel")], split[(name, "user")]
    print(f"{name:36} {k / total * per_request:10.1f} {u / total * per_request:10.1f} {100 * (k + u) / total:6.1f}%")
EOF
echo "perf data and stacks: $out"
