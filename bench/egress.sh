#!/usr/bin/env bash
# Measures the egress proxy's throughput: one 1 GiB HTTPS download from a local upstream,
# directly, through a bare TCP relay (bench/relay: two spliced io.Copy, the least any relay
# costs), and through a CONNECT tunnel of `gatehouse server --egress-listen` (token auth,
# network policy, audit on), in alternating rounds, with curl. Prints MB/s per path, the
# medians, and the ratios tunnel/direct and tunnel/relay.
#
# Usage: bench/egress.sh [BYTES] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
BYTES=${1:-1073741824}
ROUNDS=${2:-3}
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; } >/dev/null

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/gatehouse" ./cmd/gatehouse
go build -o "$work/upstream" ./bench/upstream
go build -o "$work/relay" ./bench/relay
waitline() { for _ in $(seq 1 200); do l=$(grep -m1 "^$2" "$1" 2>/dev/null || true); [ -n "$l" ] && { echo "$l"; return; }; sleep 0.05; done; echo "timed out waiting for $2 in $1" >&2; cat "$1" >&2; exit 1; }

"$work/upstream" -ca-out "$work/ca.pem" >"$work/upstream.out" 2>&1 & pids+=($!)
UP=$(waitline "$work/upstream.out" https://)
"$work/relay" -upstream "${UP#https://}" >"$work/relay.out" 2>&1 & pids+=($!)
RELAY=$(waitline "$work/relay.out" 127.0.0.1)
ADMIN=gth_$(head -c 40 /dev/urandom | base32 | tr -d '=' | tr 'A-Z' 'a-z' | head -c 52)
GATEHOUSE_BOOTSTRAP_TOKEN=$ADMIN "$work/gatehouse" server --listen 127.0.0.1:0 --egress-listen 127.0.0.1:0 \
  --data-dir "$work/data" --log-level warn >"$work/gh.out" 2>"$work/gh.err" & pids+=($!)
GH=$(waitline "$work/gh.out" "Gatehouse is listening on " | sed 's/^Gatehouse is listening on //')
EG=$(waitline "$work/gh.out" "Egress proxy is listening on " | sed 's/^Egress proxy is listening on http:\/\///')
# The upstream is on loopback, which the policy refuses unless a range opens it.
curl -fsS -X PUT -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' "$GH/api/2.0/gatehouse/network-policy" \
  -d '{"restriction_mode":"FULL_ACCESS","enforcement_mode":"ENFORCED","allowed_ip_ranges":["127.0.0.0/8"]}' >/dev/null

fetch() { # fetch [curl args...] [URL base]: prints bytes/s
  local base=$UP
  if [ "${1:-}" = "--base" ]; then base=$2; shift 2; fi
  curl -sS -o /dev/null --cacert "$work/ca.pem" -w '%{speed_download} %{size_download}\n' "$@" "$base/big?bytes=$BYTES" |
    awk -v want="$BYTES" '$2 != want {print "short download: " $2 " of " want > "/dev/stderr"; exit 1} {print $1}'
}
direct=(); relay=(); tunnel=()
mbs() { awk -v v="$1" 'BEGIN{printf "%.1f", v/1e6}'; }
for round in $(seq 1 "$ROUNDS"); do
  d=$(fetch); r=$(fetch --base "https://$RELAY"); t=$(fetch --proxy "http://x:$ADMIN@$EG")
  direct+=("$d"); relay+=("$r"); tunnel+=("$t")
  printf 'round %s: direct %s MB/s, relay %s MB/s, tunnel %s MB/s\n' "$round" "$(mbs "$d")" "$(mbs "$r")" "$(mbs "$t")" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
md=$(median "${direct[@]}"); mr=$(median "${relay[@]}"); mt=$(median "${tunnel[@]}")
printf '\n%-8s %12s\n' path 'MB/s (median)'
printf '%-8s %12s\n' direct "$(mbs "$md")" relay "$(mbs "$mr")" tunnel "$(mbs "$mt")"
printf '\nratio tunnel/direct: %.3f   (goal >= 0.90)\n' "$(awk -v a="$mt" -v b="$md" 'BEGIN{print a/b}')"
printf 'ratio relay/direct:  %.3f   (what any relay costs here)\n' "$(awk -v a="$mr" -v b="$md" 'BEGIN{print a/b}')"
printf 'ratio tunnel/relay:  %.3f\n' "$(awk -v a="$mt" -v b="$mr" 'BEGIN{print a/b}')"
printf '%s bytes per download, %s rounds, %s cores, loopback\n' "$BYTES" "$ROUNDS" "$(nproc)"
