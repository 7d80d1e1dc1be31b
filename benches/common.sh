# What the benches' shell scripts share (load.sh, orgs.sh source it): Prometheus' request,
# the demo's busy afternoon, the tools they need, the binary they run, and waiting for it.

PROMETHEUS_ACCEPT='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
# A busy weekday afternoon, for --demo-time and simulate --time: the same data every run.
DEMO_TIME=2026-08-20T14:07:00Z
SCRIPT=$(basename "$0")

# Exits, naming the package to install, unless every tool given is on PATH.
require_tools() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$SCRIPT: $tool is missing (apt-get install -y $*)" >&2; exit 1; }
  done
}

# BIN, or else this tree's release build, built now.
release_binary() {
  if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN=target/release/genesys-exporter
  fi
}

# Waits until URL answers 2xx, polling every 0.1 s, TRIES times (default 600: a minute).
wait_for() {
  for _ in $(seq "${2:-600}"); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "$SCRIPT: $1 never answered" >&2
  exit 1
}
