#!/usr/bin/env bash
# Measures Gatehouse's MCP proxy (/api/2.0/mcp/external/{name}) in one run, on loopback,
# against an MCP server built with the official Go SDK (bench/mcpserver, HTTPS, one tool
# "echo", bearer credential injected by Gatehouse):
#   1. memory of idle event streams: Gatehouse's VmRSS before and with STREAMS MCP
#      sessions each holding its idle GET event stream open through Gatehouse
#      (bench/mcpstreams -streams), and the RSS per stream (goal: at most 50 KB);
#   2. tools/call round trip: CALLS sequential calls of echo with the SDK's Streamable
#      HTTP client, directly to the server and through Gatehouse, alternating within each
#      of ROUNDS rounds; prints the median p50/p99 of each and the latency Gatehouse adds.
#
# The server speaks HTTP/1.1, so every stream also holds one upstream TLS connection;
# MCP_UPSTREAM_HTTP2=1 lets it offer HTTP/2, over which Gatehouse multiplexes the streams.
#
# Usage: [MCP_UPSTREAM_HTTP2=1] bench/mcp.sh [STREAMS] [CALLS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
STREAMS=${1:-1000}
CALLS=${2:-2000}
ROUNDS=${3:-3}
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; } >/dev/null
# Each stream costs the client one descriptor and Gatehouse two (caller and upstream side).
ulimit -n "$(( STREAMS * 3 + 1024 ))" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $(( STREAMS * 2 + 256 )) ] || { echo "ulimit -n $(ulimit -n) is too low for $STREAMS streams" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/gatehouse" ./cmd/gatehouse
go build -o "$work/mcpserver" ./bench/mcpserver
go build -o "$work/mcpstreams" ./bench/mcpstreams

# waitline FILE PREFIX: print the first line of FILE that starts with PREFIX, waiting for it.
waitline() { for _ in $(seq 1 "${3:-200}"); do l=$(grep -m1 "^$2" "$1" 2>/dev/null || true); [ -n "$l" ] && { echo "$l"; return; }; sleep 0.05; done; echo "timed out waiting for $2 in $1" >&2; cat "$1" >&2; exit 1; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }   # KiB

CRED=bench-mcp-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$work/mcpserver" -ca-out "$work/ca.pem" -token "$CRED" -http2="${MCP_UPSTREAM_HTTP2:-0}" >"$work/up.out" 2>&1 & pids+=($!)
UP=$(waitline "$work/up.out" https://)

ADMIN=gth_$(head -c 40 /dev/urandom | base32 | tr -d '=' | tr 'A-Z' 'a-z' | head -c 52)
GATEHOUSE_BOOTSTRAP_TOKEN=$ADMIN "$work/gatehouse" server --listen 127.0.0.1:0 --data-dir "$work/data" \
  --upstream-ca-file "$work/ca.pem" --log-level warn >"$work/gh.out" 2>"$work/gh.err" & GHPID=$!; pids+=($GHPID)
GH=$(waitline "$work/gh.out" "Gatehouse is listening on " | sed 's/^Gatehouse is listening on //')

api() { curl -fsS -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' "$@"; }
# The server is on loopback, which the network policy refuses unless a range opens it.
api -X PUT "$GH/api/2.0/gatehouse/network-policy" -d '{"allowed_ip_ranges":["127.0.0.0/8"]}' >/dev/null
api -X POST "$GH/api/2.0/preview/scim/v2/Users" -d '{"userName":"bench@example.com"}' >/dev/null
api -X POST "$GH/api/2.1/unity-catalog/connections" -d "{\"name\":\"benchmcp\",\"options\":{\"host\":\"$UP\",\"base_path\":\"/mcp\",\"bearer_token\":\"$CRED\",\"is_mcp_connection\":\"true\"}}" >/dev/null
api -X PATCH "$GH/api/2.1/unity-catalog/permissions/connection/benchmcp" -d '{"changes":[{"principal":"bench@example.com","add":["USE_CONNECTION"]}]}' >/dev/null
TOKEN=$(api -X POST "$GH/api/2.0/token-management/on-behalf-of/tokens" -d '{"user_name":"bench@example.com"}' | sed 's/.*"token_value":"\([^"]*\)".*/\1/')
EP="$GH/api/2.0/mcp/external/benchmcp"

# A few calls and streams first, so the baseline includes the code paths' start-up cost and
# a broken setup fails here.
"$work/mcpstreams" -url "$EP" -token "$TOKEN" -calls 20 -warmup 0 >/dev/null
"$work/mcpstreams" -url "$EP" -token "$TOKEN" -streams 16 -timeout 60s </dev/null >/dev/null

# 1. idle streams
sleep 1
before=$(rss "$GHPID")
mkfifo "$work/hold"
"$work/mcpstreams" -url "$EP" -token "$TOKEN" -streams "$STREAMS" -timeout 300s <"$work/hold" >"$work/streams.out" 2>"$work/streams.err" & SPID=$!; pids+=($SPID)
exec 3>"$work/hold"   # the client holds its streams until this closes
start=$(date +%s.%N)
for _ in $(seq 1 1200); do grep -q '^open' "$work/streams.out" 2>/dev/null && break; kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
grep -q "^open $STREAMS\$" "$work/streams.out" || { echo "streams did not open:" >&2; cat "$work/streams.err" >&2; exit 1; }
opent=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e-s}')
sleep 2   # let the streams settle
with=$(rss "$GHPID")
fds=$(ls "/proc/$GHPID/fd" | wc -l)
exec 3>&-
wait "$SPID" || { echo "stream client failed:" >&2; cat "$work/streams.err" >&2; exit 1; }

# 2. tools/call latency, alternating direct and through Gatehouse
results=()
for round in $(seq 1 "$ROUNDS"); do
  d=$("$work/mcpstreams" -url "$UP/mcp" -ca "$work/ca.pem" -token "$CRED" -calls "$CALLS")
  g=$("$work/mcpstreams" -url "$EP" -token "$TOKEN" -calls "$CALLS")
  results+=("direct ${d#calls }" "gatehouse ${g#calls }")
  echo "round $round: direct ${d#calls } | gatehouse ${g#calls }  (calls p50 p99 mean, ms)" >&2
done
# median NAME COLUMN: the median of one column (3 p50, 4 p99, 5 mean) over the rounds
median() { printf '%s\n' "${results[@]}" | awk -v n="$1" -v c="$2" '$1==n {print $c}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

printf '\nidle MCP event streams through Gatehouse (opened in %ss, %s descriptors open)\n' "$opent" "$fds"
printf '%-28s %10s\n' 'RSS before' "$(awk -v k="$before" 'BEGIN {printf "%.1f MiB", k/1024}')"
printf '%-28s %10s\n' "RSS with $STREAMS streams" "$(awk -v k="$with" 'BEGIN {printf "%.1f MiB", k/1024}')"
printf '%-28s %10s   (goal <= 50 KB)\n' 'RSS per stream' "$(awk -v a="$before" -v b="$with" -v n="$STREAMS" 'BEGIN {printf "%.1f KB", (b-a)*1.024/n}')"
printf '\ntools/call round trip, median of %s rounds of %s sequential calls (ms)\n%-10s %8s %8s %8s\n' "$ROUNDS" "$CALLS" target p50 p99 mean
for t in direct gatehouse; do
  printf '%-10s %8s %8s %8s\n' "$t" "$(median $t 3)" "$(median $t 4)" "$(median $t 5)"
done
printf '%-10s %8s %8s %8s\n' added \
  "$(awk -v a="$(median gatehouse 3)" -v b="$(median direct 3)" 'BEGIN {printf "%.3f", a-b}')" \
  "$(awk -v a="$(median gatehouse 4)" -v b="$(median direct 4)" 'BEGIN {printf "%.3f", a-b}')" \
  "$(awk -v a="$(median gatehouse 5)" -v b="$(median direct 5)" 'BEGIN {printf "%.3f", a-b}')"
printf 'official Go SDK client and server, HTTPS upstream (%s), on %s cores, loopback\n' "$([ "${MCP_UPSTREAM_HTTP2:-0}" = 1 ] && echo 'HTTP/2 offered' || echo HTTP/1.1)" "$(nproc)"
