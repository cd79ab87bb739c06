#!/usr/bin/env bash
# Measures what governance costs on the proxy path. In one run, on loopback, it loads:
#   direct     the HTTPS upstream itself (for scale)
#   reference  a bare httputil.ReverseProxy that adds one header (bench/refproxy)
#   gatehouse  a call through a bearer connection: token check, grant check (the caller
#              holds USE_CONNECTION through a group), credential injection, audit record
# with wrk, and prints requests/s and p50/p99 per target and the ratio gatehouse/reference.
#
# The machine is shared by the load generator, the upstream and the proxy, so single
# runs swing by 10-20%; the script therefore runs ROUNDS rounds, alternating reference
# and gatehouse within each, and reports the median of each target.
#
# Usage: bench/proxy.sh [DURATION_SECONDS] [CONNECTIONS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${2:-32}
ROUNDS=${3:-3}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; } >/dev/null

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/gatehouse" ./cmd/gatehouse
go build -o "$work/upstream" ./bench/upstream
go build -o "$work/refproxy" ./bench/refproxy

# waitline FILE PREFIX: print the first line of FILE that starts with PREFIX, waiting for it.
waitline() { for _ in $(seq 1 200); do l=$(grep -m1 "^$2" "$1" 2>/dev/null || true); [ -n "$l" ] && { echo "$l"; return; }; sleep 0.05; done; echo "timed out waiting for $2 in $1" >&2; cat "$1" >&2; exit 1; }

"$work/upstream" -ca-out "$work/ca.pem" >"$work/upstream.out" 2>&1 & pids+=($!)
UP=$(waitline "$work/upstream.out" https://)
"$work/refproxy" -upstream "$UP" -ca "$work/ca.pem" >"$work/ref.out" 2>&1 & pids+=($!)
REF=$(waitline "$work/ref.out" http://)

ADMIN=gth_$(head -c 40 /dev/urandom | base32 | tr -d '=' | tr 'A-Z' 'a-z' | head -c 52)
GATEHOUSE_BOOTSTRAP_TOKEN=$ADMIN "$work/gatehouse" server --listen 127.0.0.1:0 --data-dir "$work/data" \
  --upstream-ca-file "$work/ca.pem" --log-level warn >"$work/gh.out" 2>"$work/gh.err" & pids+=($!)
GH=$(waitline "$work/gh.out" "Gatehouse is listening on " | sed 's/^Gatehouse is listening on //')

api() { curl -fsS -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' "$@"; }
# The upstream is on loopback, which the network policy refuses unless a range opens it.
api -X PUT "$GH/api/2.0/gatehouse/network-policy" -d '{"allowed_ip_ranges":["127.0.0.0/8"]}' >/dev/null
api -X POST "$GH/api/2.0/preview/scim/v2/Users" -d '{"userName":"bench@example.com"}' >/dev/null
api -X POST "$GH/api/2.0/preview/scim/v2/Groups" -d '{"displayName":"bench-team"}' >/dev/null
GID=$(api "$GH/api/2.0/preview/scim/v2/Groups?filter=displayName%20eq%20%22bench-team%22" | sed 's/.*"id":"\([^"]*\)".*/\1/')
UID_=$(api "$GH/api/2.0/preview/scim/v2/Users?filter=userName%20eq%20%22bench%40example.com%22" | sed 's/.*"Resources":\[{[^}]*"id":"\([^"]*\)".*/\1/')
api -X PATCH "$GH/api/2.0/preview/scim/v2/Groups/$GID" -d "{\"Operations\":[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"$UID_\"}]}]}" >/dev/null
api -X POST "$GH/api/2.1/unity-catalog/connections" -d "{\"name\":\"bench\",\"options\":{\"host\":\"$UP\",\"bearer_token\":\"bench-token\"}}" >/dev/null
api -X PATCH "$GH/api/2.1/unity-catalog/permissions/connection/bench" -d '{"changes":[{"principal":"bench-team","add":["USE_CONNECTION"]}]}' >/dev/null
TOKEN=$(api -X POST "$GH/api/2.0/token-management/on-behalf-of/tokens" -d '{"user_name":"bench@example.com"}' | sed 's/.*"token_value":"\([^"]*\)".*/\1/')
# One check call so a broken setup fails here, not as a fast stream of errors.
curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "$GH/api/2.0/unity-catalog/connections/bench/proxy/x"

# run NAME URL [HEADER]: prints "NAME rps p50 p99"
run() {
  local name=$1 url=$2; shift 2
  local out
  wrk -t2 -c"$CONNS" -d2s "$@" "$url" >/dev/null 2>&1   # warm-up
  out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url")
  if echo "$out" | grep -q "Non-2xx"; then echo "$name: non-2xx answers:" >&2; echo "$out" >&2; exit 1; fi
  local rps p50 p99
  rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  echo "$name $rps $p50 $p99"
}

results=()
for round in $(seq 1 "$ROUNDS"); do
  results+=("$(run direct "$UP/x")")
  results+=("$(run reference "$REF/x")")
  results+=("$(run gatehouse "$GH/api/2.0/unity-catalog/connections/bench/proxy/x" -H "Authorization: Bearer $TOKEN")")
  echo "round $round: ${results[*]: -3}" >&2
done

# median NAME COLUMN: the median of one column over the rounds of one target
median() { printf '%s\n' "${results[@]}" | awk -v n="$1" -v c="$2" '$1==n {print $c}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
printf '\nmedian of %s rounds\n%-10s %12s %10s %10s\n' "$ROUNDS" target 'requests/s' p50 p99
for t in direct reference gatehouse; do
  printf '%-10s %12s %10s %10s\n' "$t" "$(median $t 2)" "$(median $t 3)" "$(median $t 4)"
done
ref=$(median reference 2)
gh=$(median gatehouse 2)
printf '\nratio gatehouse/reference (requests/s): %s   (goal >= 0.90)\n' "$(awk -v a="$gh" -v b="$ref" 'BEGIN {printf "%.3f", a/b}')"
printf 'wrk -t2 -c%s -d%ss, %s rounds, on %s cores, loopback\n' "$CONNS" "$DURATION" "$ROUNDS" "$(nproc)"
