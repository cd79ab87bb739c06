#!/usr/bin/env bash
# Measures Gatehouse's MCP proxy (/api/2.0/mcp/external/{name}) in one run, on loopback,
# against MCP servers built with the official Go SDK (bench/mcpserver, HTTPS, one tool
# "echo", bearer credential injected by Gatehouse), once per upstream protocol: one server
# speaks HTTP/1.1 only, the other offers HTTP/2 (TLS ALPN), over which Gatehouse
# multiplexes its calls and streams; and once per caller protocol: HTTP/1.1 (one
# connection per stream, as a client reaching Gatehouse directly), or HTTP/2 with prior
# knowledge (h2c) over H2C_CONNS connections (default 8) to a Gatehouse started with
# --http2-cleartext, as a TLS-terminating load balancer that speaks HTTP/2 to its
# targets sends its callers' requests. Each caller x upstream pair gets its own fresh
# Gatehouse, so that one's memory does not hide in another's baseline.
#   1. memory of idle event streams: Gatehouse's VmRSS before and with STREAMS MCP
#      sessions each holding its idle GET event stream open through Gatehouse
#      (bench/mcpstreams -streams), and the RSS per stream (goal: at most 50 KB);
#   2. tools/call round trip: CALLS sequential calls of echo with the SDK's Streamable
#      HTTP client, directly to the server and through Gatehouse, alternating within each
#      of ROUNDS rounds; prints the median p50/p99 of each, the latency Gatehouse adds, and
#      the TLS connections the server accepted from Gatehouse during its calls (a working
#      keep-alive pool opens one or two, however many calls go through).
#
# MCP_PROTOCOLS="http1 http2" (the default) picks the upstreams, MCP_CALLERS="http1 h2c"
# (the default) the caller protocols. MCP_PROFILE=DIR builds Gatehouse with -tags
# gatehouse_benchpprof (a pprof listener on loopback, never in the product build) and
# writes to DIR, per caller x upstream pair (files named CALLER-UPSTREAM, e.g.
# heap-h2c-http2.prof): a heap profile and goroutine dump with the streams open, a CPU
# profile and an execution trace of the first round of calls; it also prints the live
# memory per stream (heap in use and goroutine stacks after a forced GC, without the
# garbage the stream opening left) and Gatehouse's goroutine count, and keeps the
# runtime's memory accounting as it stood when the RSS was read
# (memstats-rss-CALLER-UPSTREAM.txt: heap in use, idle and released, stacks) and after
# the forced GC (memstats-CALLER-UPSTREAM.txt). BENCH_MEMPROFILE_RATE=N (with
# MCP_PROFILE) samples the heap profile every N bytes instead of every 512 KiB.
#
# Usage: [MCP_PROTOCOLS=...] [MCP_CALLERS=...] [H2C_CONNS=n] [MCP_PROFILE=dir] bench/mcp.sh [STREAMS] [CALLS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
STREAMS=${1:-1000}
CALLS=${2:-2000}
ROUNDS=${3:-3}
PROTOCOLS=${MCP_PROTOCOLS:-http1 http2}
CALLERS=${MCP_CALLERS:-http1 h2c}
H2C_CONNS=${H2C_CONNS:-8}
PROFILE=${MCP_PROFILE:-}
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; } >/dev/null
# Each stream costs the client one descriptor and Gatehouse two (caller and upstream side).
ulimit -n "$(( STREAMS * 3 + 1024 ))" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $(( STREAMS * 2 + 256 )) ] || { echo "ulimit -n $(ulimit -n) is too low for $STREAMS streams" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

tags=()
if [ -n "$PROFILE" ]; then mkdir -p "$PROFILE"; PROFILE=$(cd "$PROFILE" && pwd); tags=(-tags gatehouse_benchpprof); fi
go build "${tags[@]}" -o "$work/gatehouse" ./cmd/gatehouse
go build -o "$work/mcpserver" ./bench/mcpserver
go build -o "$work/mcpstreams" ./bench/mcpstreams

# waitline FILE PREFIX: print the first line of FILE that starts with PREFIX, waiting for it.
waitline() { for _ in $(seq 1 200); do l=$(grep -m1 "^$2" "$1" 2>/dev/null || true); [ -n "$l" ] && { echo "$l"; return; }; sleep 0.05; done; echo "timed out waiting for $2 in $1" >&2; cat "$1" >&2; exit 1; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }   # KiB
label() { [ "$1" = http2 ] && echo HTTP/2 || echo HTTP/1.1; }
clabel() { [ "$1" = h2c ] && echo "h2c x$H2C_CONNS" || echo HTTP/1.1; }
# pairs: every caller x upstream pair, as CALLER-UPSTREAM
pairs=()
for c in $CALLERS; do for p in $PROTOCOLS; do pairs+=("$c-$p"); done; done
# callerflags PAIR: the client's flags for the pair's caller protocol
callerflags() { [ "${1%%-*}" = h2c ] && echo "-h2c $H2C_CONNS" || true; }
plabel() { echo "$(clabel "${1%%-*}") / $(label "${1#*-}")"; }
declare -A UP CRED GHPID EP TOKEN PP

for p in $PROTOCOLS; do
  CRED[$p]=bench-mcp-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  "$work/mcpserver" -ca-out "$work/ca-$p.pem" -token "${CRED[$p]}" -http2="$([ "$p" = http2 ] && echo 1 || echo 0)" >"$work/up-$p.out" 2>&1 & pids+=($!)
  UP[$p]=$(waitline "$work/up-$p.out" https://)
done
cat "$work"/ca-*.pem >"$work/ca.pem"
# conns PROTOCOL: the TLS connections its server has accepted so far
conns() { curl -fsS --cacert "$work/ca.pem" "${UP[$1]}/bench/conns"; }

# One Gatehouse per caller x upstream pair, with one MCP connection (benchmcp) to that
# upstream's server; --http2-cleartext for the h2c callers only, so that the HTTP/1.1
# callers' Gatehouse runs as it did before the option existed.
for pair in "${pairs[@]}"; do
  p=${pair#*-}
  h2flag=(); [ "${pair%%-*}" = h2c ] && h2flag=(--http2-cleartext)
  ADMIN=gth_$(head -c 40 /dev/urandom | base32 | tr -d '=' | tr 'A-Z' 'a-z' | head -c 52)
  BENCH_PPROF_ADDR=$([ -n "$PROFILE" ] && echo 127.0.0.1:0 || true) GATEHOUSE_BOOTSTRAP_TOKEN=$ADMIN "$work/gatehouse" server --listen 127.0.0.1:0 "${h2flag[@]}" \
    --data-dir "$work/data-$pair" --upstream-ca-file "$work/ca.pem" --log-level warn >"$work/gh-$pair.out" 2>"$work/gh-$pair.err" & GHPID[$pair]=$!; pids+=($!)
  GH=$(waitline "$work/gh-$pair.out" "Gatehouse is listening on " | sed 's/^Gatehouse is listening on //')
  [ -n "$PROFILE" ] && PP[$pair]=$(waitline "$work/gh-$pair.err" "bench pprof on " | sed 's/^bench pprof on //')
  api() { curl -fsS -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' "$@"; }
  # The server is on loopback, which the network policy refuses unless a range opens it.
  api -X PUT "$GH/api/2.0/gatehouse/network-policy" -d '{"allowed_ip_ranges":["127.0.0.0/8"]}' >/dev/null
  api -X POST "$GH/api/2.0/preview/scim/v2/Users" -d '{"userName":"bench@example.com"}' >/dev/null
  api -X POST "$GH/api/2.1/unity-catalog/connections" -d "{\"name\":\"benchmcp\",\"options\":{\"host\":\"${UP[$p]}\",\"base_path\":\"/mcp\",\"bearer_token\":\"${CRED[$p]}\",\"is_mcp_connection\":\"true\"}}" >/dev/null
  api -X PATCH "$GH/api/2.1/unity-catalog/permissions/connection/benchmcp" -d '{"changes":[{"principal":"bench@example.com","add":["USE_CONNECTION"]}]}' >/dev/null
  TOKEN[$pair]=$(api -X POST "$GH/api/2.0/token-management/on-behalf-of/tokens" -d '{"user_name":"bench@example.com"}' | sed 's/.*"token_value":"\([^"]*\)".*/\1/')
  EP[$pair]="$GH/api/2.0/mcp/external/benchmcp"
  # A few calls and streams first, so the baseline includes the code paths' start-up cost
  # and a broken setup fails here.
  "$work/mcpstreams" -url "${EP[$pair]}" -token "${TOKEN[$pair]}" $(callerflags "$pair") -calls 20 -warmup 0 >/dev/null
  "$work/mcpstreams" -url "${EP[$pair]}" -token "${TOKEN[$pair]}" $(callerflags "$pair") -streams 16 -timeout 60s </dev/null >/dev/null
done

# 1. idle streams, one protocol after the other
declare -A BEFORE WITH LIVE0 LIVE FDS OPENT GOR
# live PPROF: heap in use plus goroutine stacks after a forced GC, in KiB
live() { curl -fsS "$1/debug/pprof/heap?gc=1&debug=1" | awk '/^# (HeapInuse|Stack) = / {s += $4} END {printf "%d", s/1024}'; }
for p in "${pairs[@]}"; do
  pid=${GHPID[$p]}
  sleep 1
  BEFORE[$p]=$(rss "$pid")
  [ -n "$PROFILE" ] && LIVE0[$p]=$(live "${PP[$p]}")
  mkfifo "$work/hold-$p"
  "$work/mcpstreams" -url "${EP[$p]}" -token "${TOKEN[$p]}" $(callerflags "$p") -streams "$STREAMS" -timeout 300s <"$work/hold-$p" >"$work/streams-$p.out" 2>"$work/streams-$p.err" & SPID=$!; pids+=($SPID)
  exec 3>"$work/hold-$p"   # the client holds its streams until this closes
  start=$(date +%s.%N)
  for _ in $(seq 1 1200); do grep -q '^open' "$work/streams-$p.out" 2>/dev/null && break; kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  grep -q "^open $STREAMS\$" "$work/streams-$p.out" || { echo "$(plabel "$p"): streams did not open:" >&2; cat "$work/streams-$p.err" >&2; exit 1; }
  OPENT[$p]=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e-s}')
  sleep 2   # let the streams settle
  WITH[$p]=$(rss "$pid")
  FDS[$p]=$(ls "/proc/$pid/fd" | wc -l)
  if [ -n "$PROFILE" ]; then
    pp=${PP[$p]}
    # The runtime's own accounting as it stood when the RSS was read (no forced GC yet):
    # heap in use, idle and released, stacks, and the GC's next goal.
    curl -fsS "$pp/debug/pprof/heap?debug=1" | grep -E '^# [A-Za-z]+ = ' >"$PROFILE/memstats-rss-$p.txt" || true
    curl -fsS -o "$PROFILE/heap-$p.prof" "$pp/debug/pprof/heap?gc=1"
    curl -fsS -o "$PROFILE/goroutine-$p.txt" "$pp/debug/pprof/goroutine?debug=1"
    curl -fsS "$pp/debug/pprof/heap?debug=1" | grep -E '^# [A-Za-z]+ = ' >"$PROFILE/memstats-$p.txt" || true
    GOR[$p]=$(awk 'NR==1 {print $NF}' "$PROFILE/goroutine-$p.txt")
    LIVE[$p]=$(live "$pp")
  fi
  exec 3>&-
  wait "$SPID" || { echo "$(plabel "$p"): stream client failed:" >&2; cat "$work/streams-$p.err" >&2; exit 1; }
done

# 2. tools/call latency, alternating direct and through Gatehouse, pair by pair
results=()
declare -A DIALS
for round in $(seq 1 "$ROUNDS"); do
  for p in "${pairs[@]}"; do
    up=${p#*-}
    d=$("$work/mcpstreams" -url "${UP[$up]}/mcp" -ca "$work/ca.pem" -token "${CRED[$up]}" -calls "$CALLS")
    c0=$(conns "$up")
    if [ -n "$PROFILE" ] && [ "$round" = 1 ]; then
      secs=$(( CALLS / 500 + 2 ))
      curl -fsS -o "$PROFILE/cpu-$p.prof" "${PP[$p]}/debug/pprof/profile?seconds=$secs" & prof=$!
      curl -fsS -o "$PROFILE/trace-$p.out" "${PP[$p]}/debug/pprof/trace?seconds=1" & tr=$!
    fi
    g=$("$work/mcpstreams" -url "${EP[$p]}" -token "${TOKEN[$p]}" $(callerflags "$p") -calls "$CALLS")
    DIALS[$p]="${DIALS[$p]:-}$(( $(conns "$up") - c0 )) "
    if [ -n "$PROFILE" ] && [ "$round" = 1 ]; then wait "$prof" "$tr"; fi
    results+=("$p-direct ${d#calls }" "$p-gatehouse ${g#calls }")
    echo "round $round $(plabel "$p"): direct ${d#calls } | gatehouse ${g#calls }  (calls p50 p99 mean, ms)" >&2
  done
done
# median NAME COLUMN: the median of one column (3 p50, 4 p99, 5 mean) over the rounds
median() { printf '%s\n' "${results[@]}" | awk -v n="$1" -v c="$2" '$1==n {print $c}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k/1024}'; }
perstream() { awk -v a="$1" -v b="$2" -v n="$STREAMS" 'BEGIN {printf "%.1f KB", (b-a)*1.024/n}'; }

printf '\n%s idle MCP event streams through Gatehouse (goal: at most 50 KB of RSS per stream)\n' "$STREAMS"
printf '%-10s %-9s %11s %11s %11s %9s %8s' caller upstream 'RSS before' 'RSS with' 'per stream' 'opened in' 'fds'
[ -n "$PROFILE" ] && printf ' %14s %11s' 'live per str.' 'goroutines'
printf '\n'
for p in "${pairs[@]}"; do
  printf '%-10s %-9s %11s %11s %11s %8ss %8s' "$(clabel "${p%%-*}")" "$(label "${p#*-}")" "$(mib "${BEFORE[$p]}")" "$(mib "${WITH[$p]}")" "$(perstream "${BEFORE[$p]}" "${WITH[$p]}")" "${OPENT[$p]}" "${FDS[$p]}"
  [ -n "$PROFILE" ] && printf ' %14s %11s' "$(perstream "${LIVE0[$p]}" "${LIVE[$p]}")" "${GOR[$p]}"
  printf '\n'
done
printf '\ntools/call round trip, median of %s rounds of %s sequential calls (ms)\n' "$ROUNDS" "$CALLS"
printf '%-10s %-9s %8s %8s %10s %8s %8s %8s %8s   %s\n' caller upstream 'direct' '' 'gatehouse' '' 'added' '' 'mean+' 'upstream dials per round'
printf '%-10s %-9s %8s %8s %10s %8s %8s %8s %8s\n' '' '' p50 p99 p50 p99 p50 p99 ''
for p in "${pairs[@]}"; do
  printf '%-10s %-9s %8s %8s %10s %8s %8s %8s %8s   %s\n' "$(clabel "${p%%-*}")" "$(label "${p#*-}")" \
    "$(median "$p-direct" 3)" "$(median "$p-direct" 4)" "$(median "$p-gatehouse" 3)" "$(median "$p-gatehouse" 4)" \
    "$(awk -v a="$(median "$p-gatehouse" 3)" -v b="$(median "$p-direct" 3)" 'BEGIN {printf "%+.3f", a-b}')" \
    "$(awk -v a="$(median "$p-gatehouse" 4)" -v b="$(median "$p-direct" 4)" 'BEGIN {printf "%+.3f", a-b}')" \
    "$(awk -v a="$(median "$p-gatehouse" 5)" -v b="$(median "$p-direct" 5)" 'BEGIN {printf "%+.3f", a-b}')" \
    "${DIALS[$p]}"
done
printf 'official Go SDK client and server, HTTPS upstream, caller to Gatehouse plain HTTP (HTTP/1.1, or h2c over %s connections for all streams), %s cores, loopback\n' "$H2C_CONNS" "$(nproc)"
[ -n "$PROFILE" ] && printf 'profiles in %s (go tool pprof -top %s/heap-h2c-http2.prof; go tool trace ...)\n' "$PROFILE" "$PROFILE"
exit 0
