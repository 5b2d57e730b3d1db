#!/usr/bin/env bash
# The agent's /metrics side by side with Debian's prometheus-node-exporter
# (1.5.0 in Debian 12) started with only its uname, os and selinux
# collectors (the facts both report), in one run on this machine: requests
# per second from Debian's wrk at the same concurrency, p99 latency, and
# resident memory (VmRSS) of each server after the load. Runs alternate
# (node_exporter, agent, node_exporter, agent, ...) so that a noisy
# neighbour hurts both; the figures are medians. Issue 20's goal: at least
# 5x node_exporter's throughput at no more than half its memory. Prints
# figures; asserts nothing about them (STYLE.md section 17).
#
# Usage: agent_vs_node_exporter.sh CVM_BINARY [DURATION [ROUNDS]]
#   default 10s per run, 3 rounds; `... 1s 1` is the smoke run CTest does.
#   --steady CVM_BINARY [MINUTES]: the agent alone, scanning / every 10 s
#   for MINUTES (default 10), resident memory sampled each minute (the
#   steady-state figure; not part of the default run), then where the
#   resident pages are (smaps, by mapping).
set -euo pipefail

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
wait_http() {
  local url=$1 i
  for i in $(seq 1 200); do
    if python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$url" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "bench: $url did not answer" >&2
  return 1
}
scrape_bytes() { python3 -c 'import sys,urllib.request; print(len(urllib.request.urlopen(sys.argv[1]).read()))' "$1"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# Prints "<requests/s> <p99 ms>" of one wrk run.
load() {
  wrk -t2 -c16 -d"$2" --latency "$1" | awk '
    /Requests\/sec:/ {rps=$2}
    /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; p99=v}
    /Non-2xx|Socket errors/ {print "bench: wrk: " $0 > "/dev/stderr"}
    END {print rps, p99}'
}

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ "${1:-}" = "--steady" ]; then
  bin=$2 minutes=${3:-10}
  port=$(free_port)
  "$bin" agent --root / --listen "127.0.0.1:$port" --interval 10s --no-pci-events \
    2>"$tmp/agent.log" &
  pids+=($!)
  wait_http "http://127.0.0.1:$port/readyz"
  for m in $(seq 1 "$minutes"); do
    sleep 60
    echo "agent steady state: minute $m, VmRSS $(rss_kib "${pids[0]}") KiB"
  done
  # Where the resident pages are: the agent's mappings grouped by file
  # (anonymous ones as [heap], [stack], [anon]), largest first, and the
  # totals of smaps_rollup (Shared_Clean is what other processes map too).
  echo "agent resident pages by mapping (KiB, /proc/PID/smaps):"
  awk '/^[0-9a-f]+-[0-9a-f]+ / {name = (NF >= 6) ? $6 : "[anon]"}
       /^Rss:/ {rss[name] += $2}
       END {for (n in rss) if (rss[n] > 0) printf "  %6d %s\n", rss[n], n}' \
    "/proc/${pids[0]}/smaps" | sort -rn
  grep -E '^(Rss|Shared_Clean|Private_Clean|Private_Dirty|Anonymous):' \
    "/proc/${pids[0]}/smaps_rollup" | sed 's/^/  /'
  echo "agent threads: $(ls "/proc/${pids[0]}/task" | wc -l)"
  exit 0
fi

bin=$1 duration=${2:-10s} rounds=${3:-3}
command -v wrk >/dev/null || { echo "bench: needs Debian's wrk" >&2; exit 2; }
ne_bin=/usr/bin/prometheus-node-exporter
[ -x "$ne_bin" ] || { echo "bench: needs Debian's prometheus-node-exporter" >&2; exit 2; }

ne_port=$(free_port)
"$ne_bin" --web.listen-address="127.0.0.1:$ne_port" --collector.disable-defaults \
  --collector.uname --collector.os --collector.selinux 2>"$tmp/ne.log" &
ne_pid=$!
pids+=("$ne_pid")
agent_port=$(free_port)
"$bin" agent --root / --listen "127.0.0.1:$agent_port" --no-pci-events 2>"$tmp/agent.log" &
agent_pid=$!
pids+=("$agent_pid")
wait_http "http://127.0.0.1:$ne_port/metrics"
wait_http "http://127.0.0.1:$agent_port/readyz"

echo "node_exporter $("$ne_bin" --version 2>&1 | head -1 | awk '{print $3}') (uname, os, selinux collectors): $(scrape_bytes "http://127.0.0.1:$ne_port/metrics") bytes a scrape"
echo "cvm-preflight agent $("$bin" --version | awk '{print $2}'): $(scrape_bytes "http://127.0.0.1:$agent_port/metrics") bytes a scrape"
echo "idle VmRSS: node_exporter $(rss_kib "$ne_pid") KiB, agent $(rss_kib "$agent_pid") KiB"
for r in $(seq 1 "$rounds"); do
  read -r rps p99 < <(load "http://127.0.0.1:$ne_port/metrics" "$duration")
  echo "$rps $p99" >>"$tmp/ne"
  echo "round $r node_exporter: $rps req/s, p99 $p99 ms"
  read -r rps p99 < <(load "http://127.0.0.1:$agent_port/metrics" "$duration")
  echo "$rps $p99" >>"$tmp/agent"
  echo "round $r agent:         $rps req/s, p99 $p99 ms"
done
ne_rps=$(cut -d' ' -f1 "$tmp/ne" | median)
agent_rps=$(cut -d' ' -f1 "$tmp/agent" | median)
ne_p99=$(cut -d' ' -f2 "$tmp/ne" | median)
agent_p99=$(cut -d' ' -f2 "$tmp/agent" | median)
ne_rss=$(rss_kib "$ne_pid")
agent_rss=$(rss_kib "$agent_pid")
echo "median node_exporter: $ne_rps req/s, p99 $ne_p99 ms, VmRSS after load $ne_rss KiB"
echo "median agent:         $agent_rps req/s, p99 $agent_p99 ms, VmRSS after load $agent_rss KiB"
awk -v a="$agent_rps" -v n="$ne_rps" -v ar="$agent_rss" -v nr="$ne_rss" 'BEGIN {
  printf "agent/node_exporter: throughput %.1fx (goal >= 5x), memory %.2fx (goal <= 0.5x)\n", a/n, ar/nr }'
