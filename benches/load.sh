#!/usr/bin/env bash
# Load test of /metrics, beside nginx serving the very same bytes as a static file: the
# physical limit for serving them on this machine. Prints one Markdown table for
# docs/performance.md.
#
#   benches/load.sh                      # 50k series
#   SERIES="10000 50000 200000" DURATION=20 benches/load.sh
#
# Needs wrk and nginx (Debian: apt-get install -y wrk nginx) and talks to 127.0.0.1 only.
# For each size it starts the exporter in demo mode (the simulator in-process, sized with
# --demo-queues, its clock on a busy weekday afternoon so every run sees the same data),
# waits for the first poll, saves each body it serves, starts its own nginx on a free
# port with a temporary configuration, and runs wrk against both, with 16 connections:
#
# - "plain": what curl gets (no Accept header): the text format, uncompressed;
# - "prometheus": Prometheus' Accept and Accept-Encoding: OpenMetrics, gzip-compressed.
#
# RSS is the exporter process's, simulator included, from /proc/PID/status: VmRSS when
# idle after the first poll of the default 6-queue demo, VmRSS at each size after its
# first poll (before the load), and VmHWM (the peak) after the load at each size. The
# script reads metrics itself with `curl --compressed`, as Prometheus does, so that the
# exporter inflates its plain text (kept until the next publish) only for the plain runs.
#
#   MODE=polls SERIES=200000 DURATION=10 benches/load.sh
#
# The poll mode: scrapes while a large poll publishes, and memory around it. The exporter
# runs a demo whose configuration (written here, reloaded with SIGHUP as any other) holds
# a small rolling query read every 30 s (one series per queue). Then:
# 1. steady RSS with the small query only, after DURATION seconds of the same scrapes
#    ("before");
# 2. a reload adds "big", the default metrics by queue and media type (SERIES series),
#    also read every 30 s; once it has published, wrk runs DURATION seconds between two
#    of its polls ("quiet"), then DURATION seconds around its next poll ("polling"),
#    with the peak RSS of that run (VmHWM, reset first through /proc/PID/clear_refs);
# 3. a reload removes "big": steady RSS again ("after"), to compare with "before".
# With gdb installed, it also gives glibc's own count of the bytes in use before and after
# (malloc_stats), which tells memory the exporter holds from pages fragmentation keeps.
# Both runs use Prometheus' request (OpenMetrics, gzip) on the same body size.
#
# BIN=path/to/genesys-exporter runs that binary instead of building this tree's, e.g. to
# compare a commit before and after in one session. NGINX_SENDFILE=off has nginx copy the
# files into the socket, as the exporter does, instead of handing them over with sendfile.
# CI does not run this script: its figures depend on the machine. benches/orgs.sh, beside
# it, measures one process with many orgs (docs/capacity.md).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh

MODE=${MODE:-nginx}
if [ "$MODE" = polls ]; then
  SERIES=${SERIES:-200000}
else
  SERIES=${SERIES:-50000}
fi
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
# Series per simulated queue at DEMO_TIME with the default query: about 112.
SERIES_PER_QUEUE=${SERIES_PER_QUEUE:-112}

require_tools wrk nginx curl python3 gzip
release_binary

WORK=$(mktemp -d)
chmod 755 "$WORK"   # nginx workers run as an unprivileged user and read the files here
EXPORTER_PID=
NGINX_PID=
cleanup() {
  [ -n "$EXPORTER_PID" ] && kill "$EXPORTER_PID" 2>/dev/null && wait "$EXPORTER_PID" 2>/dev/null
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# A port nothing listens on, from the kernel.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts the exporter with N demo queues (and further arguments) and waits until it has
# published.
start_exporter() {
  EXPORTER_PORT=$(free_port)
  local queues=$1
  shift
  "$BIN" --demo --demo-time "$DEMO_TIME" --demo-queues "$queues" \
    --listen "127.0.0.1:$EXPORTER_PORT" "$@" 2>"$WORK/exporter.log" &
  EXPORTER_PID=$!
  wait_for "http://127.0.0.1:$EXPORTER_PORT/readyz"
}

stop_exporter() {
  kill "$EXPORTER_PID"
  wait "$EXPORTER_PID" || true
  EXPORTER_PID=
}

kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$EXPORTER_PID/status"; }
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f MB", kb / 1024 }'; }

start_nginx() {
  NGINX_PORT=$(free_port)
  cat >"$WORK/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile ${NGINX_SENDFILE:-on};
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/tmp;
  proxy_temp_path $WORK/tmp;
  fastcgi_temp_path $WORK/tmp;
  uwsgi_temp_path $WORK/tmp;
  scgi_temp_path $WORK/tmp;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location = /plain { default_type "text/plain; version=0.0.4; charset=utf-8"; alias $WORK/plain; }
    location = /prometheus {
      default_type "application/openmetrics-text; version=1.0.0; charset=utf-8";
      add_header Content-Encoding gzip;
      add_header Vary "Accept, Accept-Encoding";
      alias $WORK/prometheus.gz;
    }
  }
}
EOF
  mkdir -p "$WORK/tmp"
  nginx -p "$WORK" -c "$WORK/nginx.conf" &
  NGINX_PID=$!
  wait_for "http://127.0.0.1:$NGINX_PORT/plain"
}

stop_nginx() {
  kill "$NGINX_PID"
  wait "$NGINX_PID" || true
  NGINX_PID=
}

# wrk against URL with extra header arguments; prints "requests/s p99-ms".
load() {
  local url=$1
  shift
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url" >"$WORK/wrk.txt"
  if grep -q "Non-2xx\|Socket errors" "$WORK/wrk.txt"; then
    cat "$WORK/wrk.txt" >&2
    echo "load.sh: errors during the run" >&2
    exit 1
  fi
  local rps p99
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk.txt")
  # wrk prints 99% as e.g. 4.07ms, 812.00us or 1.02s.
  p99=$(awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
          if (u == "us") v /= 1000; else if (u == "s") v *= 1000; printf "%.2f", v }' "$WORK/wrk.txt")
  echo "$rps $p99"
}

# glibc's own count of the bytes the exporter has in use, in MB: malloc_stats, called in
# the running process through gdb, writes it to the process's stderr (the log). "n/a"
# without gdb or where gdb may not attach.
in_use() {
  command -v gdb >/dev/null || { echo "n/a"; return; }
  local from
  from=$(stat -c %s "$WORK/exporter.log")
  timeout 20 gdb -p "$EXPORTER_PID" -batch -ex 'call (void) malloc_stats()' >/dev/null 2>&1 ||
    { echo "n/a"; return; }
  # The last "in use bytes" is the total, mappings of their own included.
  tail -c +"$((from + 1))" "$WORK/exporter.log" |
    awk '/in use bytes/ { n = $NF } END { if (n == "") print "n/a"; else printf "%.1f MB", n / 1048576 }'
}

# The poll mode (see the top of this file).
if [ "$MODE" = polls ]; then
  # The big query (rolling, five minutes) has about 90 series per queue.
  queues=$(( (SERIES + 89) / 90 ))
  small='[observations]
enabled = false

[[queries]]
name = "small"
window = "5m"
refresh = "30s"
group_by = ["queueId"]
metrics = ["nOffered"]
'
  big='
[[queries]]
name = "big"
window = "5m"
refresh = "30s"
'
  headers=(-H "Accept: $PROMETHEUS_ACCEPT" -H "Accept-Encoding: gzip")
  # The big query's last success, in the demo's clock; empty before its first.
  big_success() {
    curl -s --compressed "http://127.0.0.1:$EXPORTER_PORT/metrics" |
      awk '/^genesys_last_success_timestamp_seconds\{query="big"\}/ { print $2 }'
  }
  # Waits until the big query's last success is no longer $1 (up to 90 s).
  wait_big_publish() {
    for _ in $(seq 900); do
      [ "$(big_success)" != "$1" ] && return 0
      sleep 0.1
    done
    echo "load.sh: no poll of the big query published" >&2
    exit 1
  }
  echo "# polls: $queues queues, big query about $SERIES series" >&2
  printf '%s' "$small" >"$WORK/exporter.toml"
  start_exporter "$queues" --config "$WORK/exporter.toml"
  url="http://127.0.0.1:$EXPORTER_PORT/metrics"
  # The same scrapes first, so that "before" and "after" both hold what serving them
  # leaves behind (connection buffers, the runtime's threads), and differ by the big
  # query's polls alone.
  load "$url" "${headers[@]}" >/dev/null
  sleep 5
  RSS_BEFORE=$(kb VmRSS)
  ANON_BEFORE=$(kb RssAnon)
  IN_USE_BEFORE=$(in_use)

  printf '%s%s' "$small" "$big" >"$WORK/exporter.toml"
  kill -HUP "$EXPORTER_PID"
  wait_big_publish ""
  published=$(date +%s.%N)
  last=$(big_success)
  actual=$(curl -s --compressed "$url" | awk '/^genesys_series\{query="big"\}/ { print $2 }')
  body=$(curl -s "${headers[@]}" "$url" | wc -c | awk '{ printf "%.2f MB", $1 / 1e6 }')
  sleep 3
  RSS_BIG=$(kb VmRSS)
  read -r quiet_rps quiet_p99 <<<"$(load "$url" "${headers[@]}")"
  [ "$(big_success)" = "$last" ] || { echo "load.sh: a poll published during the quiet run; lower DURATION" >&2; exit 1; }
  # The next poll is due 30 s after the last; the polling run is centred on it.
  start_at=$(awk -v p="$published" -v d="$DURATION" 'BEGIN { printf "%.3f", p + 30 - d / 2 }')
  now=$(date +%s.%N)
  sleep "$(awk -v s="$start_at" -v n="$now" 'BEGIN { w = s - n; print (w > 0 ? w : 0) }')"
  echo 5 >"/proc/$EXPORTER_PID/clear_refs"   # resets VmHWM to the current RSS
  read -r poll_rps poll_p99 <<<"$(load "$url" "${headers[@]}")"
  PEAK=$(kb VmHWM)
  [ "$(big_success)" != "$last" ] || { echo "load.sh: no poll published during the polling run; raise DURATION" >&2; exit 1; }

  printf '%s' "$small" >"$WORK/exporter.toml"
  kill -HUP "$EXPORTER_PID"
  for _ in $(seq 300); do
    # Read whole first: under pipefail, grep -q quitting early would fail curl's write.
    curl -s --compressed "$url" >"$WORK/metrics.txt"
    grep -q '^genesys_series{query="big"}' "$WORK/metrics.txt" || break
    sleep 0.1
  done
  sleep 5
  RSS_AFTER=$(kb VmRSS)
  ANON_AFTER=$(kb RssAnon)
  IN_USE_AFTER=$(in_use)
  stop_exporter
  echo
  echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $(nproc) cores, Prometheus' request; big query: $actual series, $body gzip"
  echo
  echo "| run | exporter req/s | exporter p99 |"
  echo "|---|---:|---:|"
  echo "| quiet (between polls) | $(printf '%.0f' "$quiet_rps") | $quiet_p99 ms |"
  echo "| polling (a poll of $actual series published during the run) | $(printf '%.0f' "$poll_rps") | $poll_p99 ms |"
  echo
  echo "RSS: small query only $(mb "$RSS_BEFORE") before; with the big query $(mb "$RSS_BIG") between polls, $(mb "$PEAK") peak during the polling run; small query only again $(mb "$RSS_AFTER") after ($(awk -v a="$RSS_AFTER" -v b="$RSS_BEFORE" 'BEGIN { printf "%+.0f%%", (a / b - 1) * 100 }')); of which anonymous (the heap, not the binary's pages) $(mb "$ANON_BEFORE") before and $(mb "$ANON_AFTER") after ($(awk -v a="$ANON_AFTER" -v b="$ANON_BEFORE" 'BEGIN { printf "%+.0f%%", (a / b - 1) * 100 }')); glibc's count of the bytes in use (malloc_stats): $IN_USE_BEFORE before, $IN_USE_AFTER after"
  exit 0
fi

echo "# idle: default demo (6 queues)" >&2
start_exporter 6
sleep 2
IDLE_RSS=$(kb VmRSS)
IDLE_SERIES=$(curl -s --compressed "http://127.0.0.1:$EXPORTER_PORT/metrics" | awk '/^genesys_series\{/ { n += $2 } END { print n }')
stop_exporter

ROWS=()
STEADY=()
for series in $SERIES; do
  queues=$(( (series + SERIES_PER_QUEUE - 1) / SERIES_PER_QUEUE ))
  echo "# $series series: $queues queues" >&2
  # The default bucket query only, without the queue observations (every 15 s) or the
  # demo's rolling query (every minute): its next poll is minutes away, so the body
  # stays the same through the runs.
  printf '[observations]\nenabled = false\n\n[[queries]]\nname = "default"\n' >"$WORK/exporter.toml"
  start_exporter "$queues" --config "$WORK/exporter.toml"
  url="http://127.0.0.1:$EXPORTER_PORT/metrics"
  actual=$(curl -s --compressed "$url" | awk '/^genesys_series\{/ { print $2 }')
  sleep 2
  STEADY+=("$actual series: $(mb "$(kb VmRSS)")")
  curl -s -o "$WORK/plain" "$url"
  curl -s -o "$WORK/prometheus.gz" -H "Accept: $PROMETHEUS_ACCEPT" -H 'Accept-Encoding: gzip' "$url"
  chmod 644 "$WORK/plain" "$WORK/prometheus.gz"
  gzip -t "$WORK/prometheus.gz"
  start_nginx
  for variant in plain prometheus; do
    if [ "$variant" = plain ]; then
      headers=()
      file=$WORK/plain
    else
      headers=(-H "Accept: $PROMETHEUS_ACCEPT" -H "Accept-Encoding: gzip")
      file=$WORK/prometheus.gz
    fi
    # The exporter must serve the very bytes nginx serves.
    curl -s "${headers[@]}" "$url" | cmp -s - "$file" || { echo "load.sh: the $variant body changed during the run" >&2; exit 1; }
    exporter=$(load "$url" "${headers[@]}")
    nginx=$(load "http://127.0.0.1:$NGINX_PORT/$variant" "${headers[@]}")
    read -r ex_rps ex_p99 <<<"$exporter"
    read -r ng_rps ng_p99 <<<"$nginx"
    ratio=$(awk -v a="$ex_rps" -v b="$ng_rps" 'BEGIN { printf "%.2f", a / b }')
    size=$(stat -c %s "$file" | awk '{ printf "%.2f MB", $1 / 1e6 }')
    ROWS+=("| $actual | $variant | $size | $(printf '%.0f' "$ex_rps") | $ex_p99 ms | $(printf '%.0f' "$ng_rps") | $ng_p99 ms | $ratio |")
  done
  stop_nginx
  peak=$(kb VmHWM)
  ROWS[-1]="${ROWS[-1]} $(mb "$peak") |"
  ROWS[-2]="${ROWS[-2]} $(mb "$peak") |"
  stop_exporter
done

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $(nproc) cores; idle RSS (default demo, $IDLE_SERIES series): $(mb "$IDLE_RSS"); steady RSS after the first poll (before the load): $(IFS=,; echo "${STEADY[*]}" | sed 's/,/, /g')"
echo
echo "| series | request | body | exporter req/s | exporter p99 | nginx req/s | nginx p99 | exporter / nginx | exporter peak RSS |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
