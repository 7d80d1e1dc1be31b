#!/usr/bin/env bash
# What one exporter process carries: one process (the release build) polling 1, 10, 50
# and 100 simulated orgs of the demo's size. Prints one Markdown table for
# docs/capacity.md.
#
#   benches/orgs.sh
#   ORGS="1 10" WARMUP=30 WINDOW=60 benches/orgs.sh     # a quicker look
#
# Talks to 127.0.0.1 only. For each number of orgs N it starts N simulators, each its own
# process (`genesys-exporter simulate`: one org, its own port and OAuth client, so its own
# 300 requests a minute, as each real org has), serving an org of its own name with the
# demo's six queues, four media types and floor (`--demo-floor`), its clock on a busy
# weekday afternoon (`--time`, the exporter's `--demo-time`: the same instant in every run,
# so every run sees the same data). Then one exporter, with a configuration of N
# `[[orgs]]` and what `--demo` runs for one org (src/cli/demo.rs): the default bucket
# query (conversation errors included), the rolling `live` query, the flows and data
# actions (bucket and rolling), the queue and flow observations, the agent states by org
# and division, the voice quality and the telephony. The demo also counts the agents of
# its three teams and six queues; `[agents]` is shared by the orgs, so listing every
# org's would have each org ask for all of them (docs/agents.md): the benchmark counts
# by org and division.
#
# After WARMUP seconds (every source has published; the bucket queries' next poll is
# minutes away), it measures WINDOW seconds of steady state, with one Prometheus scrape
# (OpenMetrics, gzip) every 15 s:
# - RSS: VmRSS from /proc/PID/status, the mean of a sample every 5 s;
# - CPU: utime + stime from /proc/PID/stat over the window, in seconds per minute;
# - API requests a minute per org: the exporter's own `genesys_api_requests_total`
#   over the window, summed over its endpoints and orgs, divided by N; with its
#   `genesys_api_failures_total` over the window (printed by endpoint and reason; any 429,
#   `reason="rate_limited"`, stops the run: the figures would not be the steady state);
# - load: the machine's 1-minute load average at the window's end (/proc/loadavg);
# then the body's series (its sample lines), its bytes plain (no Accept header) and as
# Prometheus gets it (OpenMetrics, gzip), and the p99 of SCRAPES scrapes one after the
# other with Prometheus' headers (curl's time_total).
#
# BIN=path/to/genesys-exporter runs that binary instead of building this tree's.
# CI does not run this script: its figures depend on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh

ORGS=${ORGS:-"1 10 50 100"}
WARMUP=${WARMUP:-75}
WINDOW=${WINDOW:-120}
SCRAPES=${SCRAPES:-200}

require_tools curl python3 gzip
release_binary

WORK=$(mktemp -d)
EXPORTER_PID=
SIM_PIDS=()
stop_all() {
  [ -n "$EXPORTER_PID" ] && kill "$EXPORTER_PID" 2>/dev/null && wait "$EXPORTER_PID" 2>/dev/null
  EXPORTER_PID=
  for pid in "${SIM_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SIM_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  SIM_PIDS=()
}
cleanup() {
  stop_all
  rm -rf "$WORK"
}
trap cleanup EXIT

# N ports nothing listens on, from the kernel (held together, so that they differ).
free_ports() {
  python3 -c '
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))' "$1"
}

# DEMO_TIME moved on by the seconds since ANCHOR: each process started later reads the
# same instant as those before it.
demo_now() {
  python3 -c '
import datetime, sys, time
start = datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00"))
now = start + datetime.timedelta(seconds=time.time() - float(sys.argv[2]))
print(now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))' "$DEMO_TIME" "$ANCHOR"
}

kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$EXPORTER_PID/status"; }
# utime + stime of the exporter, in clock ticks (fields 14 and 15 of /proc/PID/stat,
# counted after the command name, which may hold spaces).
ticks() { sed 's/.*) //' "/proc/$EXPORTER_PID/stat" | awk '{ print $12 + $13 }'; }
metrics() { curl -s --compressed "http://127.0.0.1:$EXPORTER_PORT/metrics"; }
# The sum of a counter's samples in a body on stdin (a label filter as the first argument).
counter_sum() { awk -v m="$1" 'index($0, m) == 1 { n += $NF } END { printf "%d", n }'; }
rate_limited() { awk '/^genesys_api_failures_total\{.*reason="rate_limited"/ { n += $NF } END { printf "%d", n }'; }
prometheus_scrape() {
  curl -s -o "${1:-/dev/null}" -w '%{time_total}\n' -H "Accept: $PROMETHEUS_ACCEPT" \
    -H 'Accept-Encoding: gzip' "http://127.0.0.1:$EXPORTER_PORT/metrics"
}

ROWS=()
for n in $ORGS; do
  echo "# $n orgs" >&2
  ANCHOR=$(date +%s.%N)
  read -r -a ports <<<"$(free_ports "$((n + 1))")"
  EXPORTER_PORT=${ports[$n]}
  config=$WORK/exporter.toml
  cat >"$config" <<'EOF'
# What --demo runs for one org (src/cli/demo.rs), for every org below.
[[queries]]
name = "default"

[[queries]]
name = "live"
window = "5m"
refresh = "1m"
group_by = ["queueId", "mediaType"]
metrics = ["nOffered", "tAbandon", "tAnswered", "tWait", "nOverSla", "oServiceLevel"]

[[queries]]
name = "flows"
source = "flows"

[[queries]]
name = "flows_live"
source = "flows"
window = "10m"
refresh = "1m"

[[queries]]
name = "actions"
source = "actions"

[[queries]]
name = "actions_live"
source = "actions"
window = "10m"
refresh = "1m"

[agents]
enabled = true
by = ["org", "division"]

[flow_observations]
enabled = true

[voice_quality]
enabled = true
refresh = "1m"

[telephony]
enabled = true
EOF
  for ((i = 0; i < n; i++)); do
    org=$(printf 'org-%03d' "$i")
    url=http://127.0.0.1:${ports[$i]}
    "$BIN" simulate --org "$org" --demo-floor --time "$(demo_now)" --listen "127.0.0.1:${ports[$i]}" \
      --client-id "client-$org" --client-secret "secret-$org" 2>"$WORK/sim-$org.log" &
    SIM_PIDS+=($!)
    printf '\n[[orgs]]\nname = "%s"\nclient_id = "client-%s"\nclient_secret = "secret-%s"\napi_url = "%s"\nlogin_url = "%s"\n' \
      "$org" "$org" "$org" "$url" "$url" >>"$config"
  done
  for ((i = 0; i < n; i++)); do
    # Any answer will do: the simulator listens.
    for _ in $(seq 600); do
      curl -s -o /dev/null "http://127.0.0.1:${ports[$i]}/simulator/surge" && break
      sleep 0.1
    done
  done
  "$BIN" --config "$config" --demo-time "$(demo_now)" --listen "127.0.0.1:$EXPORTER_PORT" \
    2>"$WORK/exporter.log" &
  EXPORTER_PID=$!
  # Up to five minutes: a hundred orgs' first polls take a while.
  wait_for "http://127.0.0.1:$EXPORTER_PORT/readyz" 3000
  sleep "$WARMUP"

  before=$(metrics)
  ticks_before=$(ticks)
  start=$(date +%s.%N)
  rss_sum=0
  rss_count=0
  for ((t = 0; t < WINDOW; t += 5)); do
    if ((t % 15 == 0)); then prometheus_scrape >/dev/null; fi
    rss_sum=$((rss_sum + $(kb VmRSS)))
    rss_count=$((rss_count + 1))
    sleep 5
  done
  ticks_after=$(ticks)
  end=$(date +%s.%N)
  load=$(cut -d' ' -f1 /proc/loadavg)
  after=$(metrics)
  minutes=$(awk -v a="$start" -v b="$end" 'BEGIN { print (b - a) / 60 }')
  cpu=$(awk -v t="$((ticks_after - ticks_before))" -v hz="$(getconf CLK_TCK)" -v m="$minutes" \
    'BEGIN { printf "%.2f", t / hz / m }')
  rss=$(awk -v s="$rss_sum" -v c="$rss_count" 'BEGIN { printf "%.1f", s / c / 1024 }')
  requests=$(($(counter_sum genesys_api_requests_total <<<"$after") - $(counter_sum genesys_api_requests_total <<<"$before")))
  per_org=$(awk -v r="$requests" -v m="$minutes" -v n="$n" 'BEGIN { printf "%.1f", r / m / n }')
  failures=$(($(counter_sum genesys_api_failures_total <<<"$after") - $(counter_sum genesys_api_failures_total <<<"$before")))
  limited=$(($(rate_limited <<<"$after") - $(rate_limited <<<"$before")))
  # The failures' endpoints and reasons, all orgs together.
  awk 'NR == FNR { was[$1] = $2; next }
       /^genesys_api_failures_total\{/ && $2 > was[$1] { key = $1; sub(/org="[^"]*",?/, "", key); n[key] += $2 - was[$1] }
       END { for (key in n) printf "#   failed: %s %d\n", key, n[key] }' <(echo "$before") <(echo "$after") >&2
  if ((limited > 0)); then
    echo "orgs.sh: $limited requests answered 429 during the window; the figures would not be the steady state" >&2
    exit 1
  fi
  budget=$(awk '/^genesys_api_budget_requests_per_minute/ { s += $NF; c++ } END { printf "%.1f", s / c }' <<<"$after")
  ready=$(awk '/^genesys_up\{/ { c++; if ($NF == 1) up++ } END { printf "%d of %d", up, c }' <<<"$after")

  curl -s -o "$WORK/plain" "http://127.0.0.1:$EXPORTER_PORT/metrics"
  prometheus_scrape "$WORK/prometheus.gz" >/dev/null
  gzip -t "$WORK/prometheus.gz"
  series=$(grep -vc '^#' "$WORK/plain")
  plain=$(stat -c %s "$WORK/plain")
  gz=$(stat -c %s "$WORK/prometheus.gz")
  for ((i = 0; i < SCRAPES; i++)); do prometheus_scrape; done >"$WORK/times"
  p99=$(sort -g "$WORK/times" | awk -v n="$SCRAPES" '{ t[NR] = $1 } END { i = int(n * 0.99 + 0.999); printf "%.1f", t[i] * 1000 }')
  stop_all
  echo "# $n orgs: $series series, $rss MiB, $cpu CPU s/min, $per_org requests/min/org, genesys_up $ready, load $load" >&2
  ROWS+=("$n $series $rss $cpu $plain $gz $p99 $per_org $budget $failures $load")
done

echo
echo "$(nproc) cores; window ${WINDOW}s after ${WARMUP}s; $SCRAPES scrapes for the p99; $(date -u +%Y-%m-%d)"
echo
echo "| orgs | series | steady RSS | CPU s/min | /metrics plain | /metrics gzip | scrape p99 | API requests/min per org (budget) | API failures | load (1m) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for row in "${ROWS[@]}"; do
  read -r n series rss cpu plain gz p99 per_org budget failures load <<<"$row"
  awk -v n="$n" -v s="$series" -v r="$rss" -v c="$cpu" -v p="$plain" -v g="$gz" -v l="$p99" \
    -v q="$per_org" -v b="$budget" -v f="$failures" -v a="$load" \
    'BEGIN { printf "| %d | %d | %.1f MiB | %.2f | %.2f MB | %.3f MB | %.1f ms | %.1f (%.1f) | %d | %.2f |\n",
             n, s, r, c, p / 1e6, g / 1e6, l, q, b, f, a }'
done
# The least-squares line through the rows: what each org adds, and the fixed base.
echo
printf '%s\n' "${ROWS[@]}" | awk '
  { x[NR] = $1; y1[NR] = $2; y2[NR] = $3; y3[NR] = $4; y4[NR] = $5; y5[NR] = $6 }
  function fit(y, name, unit, scale,   i, sx, sy, sxx, sxy, b, a, worst, d) {
    for (i = 1; i <= NR; i++) { sx += x[i]; sy += y[i]; sxx += x[i] * x[i]; sxy += x[i] * y[i] }
    b = (NR * sxy - sx * sy) / (NR * sxx - sx * sx); a = (sy - b * sx) / NR
    for (i = 1; i <= NR; i++) { d = y[i] - (a + b * x[i]); if (d < 0) d = -d; if (d > worst) worst = d }
    printf "- %s: %.4g%s per org + %.4g%s (largest distance from the line: %.3g%s)\n",
      name, b * scale, unit, a * scale, unit, worst * scale, unit
  }
  END {
    if (NR < 2) exit
    fit(y1, "series", "", 1); fit(y2, "RSS", " MiB", 1); fit(y3, "CPU", " s/min", 1)
    fit(y4, "plain body", " MB", 1e-6); fit(y5, "gzip body", " MB", 1e-6)
  }'
