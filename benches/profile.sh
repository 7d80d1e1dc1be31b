#!/bin/sh
# Profiles one criterion benchmark, its measured loop only: not the setup that every group
# runs first (building the simulator's answers).
#
#   benches/profile.sh poll_vs_value/exporter_poll
#   BENCH=largest_org benches/profile.sh largest_org/parse_and_flatten
#
# perf: attaches once criterion starts profiling, for SECONDS (15), and prints the top
# functions by their own time (`perf report --no-children`). callgrind (with CALLGRIND=1):
# counts the instructions of one iteration, inside criterion's timing loop only, which do
# not depend on what else the machine runs; prints them by function, inclusive.
set -eu
cd "$(dirname "$0")/.."
filter=${1:?usage: benches/profile.sh GROUP/FUNCTION}
seconds=${SECONDS_TO_PROFILE:-15}
out=${OUT:-/tmp/profile-$(echo "$filter" | tr / -)}
target=${BENCH:-exporter}
cargo bench --bench "$target" --no-run
bench=$(ls -t target/release/deps/"$target"-* | grep -v '\.d$' | head -n 1)

"$bench" --bench --profile-time $((seconds + 10)) "$filter" >"$out.log" 2>&1 &
pid=$!
until grep -q Profiling "$out.log"; do sleep 0.2; done
perf record -F 999 -g -p "$pid" -o "$out.perf" -- sleep "$seconds" >/dev/null 2>&1
wait "$pid"
perf report -i "$out.perf" --no-children --stdio --no-call-graph --percent-limit 1 2>/dev/null |
    grep -E '^ +[0-9.]+%'

if [ "${CALLGRIND:-0}" = 1 ]; then
    valgrind --tool=callgrind --callgrind-out-file="$out.callgrind" --collect-atstart=no \
        '--toggle-collect=criterion::bencher::Bencher*::iter*' \
        "$bench" --bench --profile-time 1 "$filter" >"$out.valgrind.log" 2>&1
    callgrind_annotate --inclusive=yes "$out.callgrind" | head -n 60
fi
