#!/usr/bin/env bash
# Scale-out on PostgreSQL (issue 11), in one run, on loopback:
#   sqlite-1   one replica on the embedded SQLite store (the reference)
#   pg-1       one replica on PostgreSQL
#   pg-2       two replicas on one PostgreSQL database
#   pg-3       three replicas on one PostgreSQL database
# For each it loads a call through a bearer connection (token check, grant check,
# credential injection, audit record) to the HTTPS upstream with wrk at a fixed total
# concurrency, spread evenly over the replicas (one wrk per replica, no load balancer),
# and prints requests/s, the ratio to sqlite-1, and where the CPU went: the replicas,
# PostgreSQL, the load generator, the upstream and everything else on the machine
# (shared with other work, the idle configurations included), as a share of all cores; plus PostgreSQL's commits and
# inserted rows per request (the audit writer's group commit shows there).
# Then, on three replicas, the revoke propagation latency A->B (bench/revokelat):
# p50/p99 over REVOKES revokes, from A's answer to B's first refusal. Goal: p99 <= 100 ms.
#
# PostgreSQL is a throwaway cluster (initdb/pg_ctl, PostgreSQL 15+) in a temporary
# folder on a Unix socket, with its default durability (fsync on).
#
# The default total concurrency is 32, as in bench/proxy.sh: past 32 concurrent calls to
# one upstream a single replica keeps only 32 idle upstream connections
# (proxy.MaxIdleConnsPerHost) and redials (a TLS handshake each) for the rest, which
# measures that limit rather than the store.
#
# Usage: bench/scaleout.sh [DURATION_SECONDS] [CONNECTIONS] [REVOKES] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${2:-32}
REVOKES=${3:-300}
ROUNDS=${4:-3}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; } >/dev/null
command -v initdb >/dev/null && command -v pg_ctl >/dev/null && command -v psql >/dev/null || { echo "initdb, pg_ctl and psql (PostgreSQL 15+) must be on PATH" >&2; exit 1; }

work=$(mktemp -d)
chmod 755 "$work"
pids=()
pgdir="$work/pg"
asuser=()
if [ "$(id -u)" = 0 ]; then asuser=(runuser -u postgres --); fi
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -f "$pgdir/data/postmaster.pid" ] && "${asuser[@]}" pg_ctl -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/gatehouse" ./cmd/gatehouse
go build -o "$work/upstream" ./bench/upstream
go build -o "$work/revokelat" ./bench/revokelat

mkdir -p "$pgdir"
[ ${#asuser[@]} -gt 0 ] && chown postgres "$pgdir"
"${asuser[@]}" initdb -D "$pgdir/data" -U gatehouse --auth=trust -E UTF8 --no-instructions >"$work/initdb.out" 2>&1 || { cat "$work/initdb.out" >&2; exit 1; }
"${asuser[@]}" pg_ctl -D "$pgdir/data" -l "$pgdir/server.log" -w -o "-c listen_addresses='' -c unix_socket_directories='$pgdir' -c max_connections=300" start >/dev/null
PGMAIN=$(head -1 "$pgdir/data/postmaster.pid")
psqlc() { psql -h "$pgdir" -U gatehouse -d "${2:-postgres}" -XAtqc "$1"; }

# waitline FILE PREFIX: print the first line of FILE that starts with PREFIX, waiting for it.
waitline() { for _ in $(seq 1 400); do l=$(grep -m1 "^$2" "$1" 2>/dev/null || true); [ -n "$l" ] && { echo "$l"; return; }; sleep 0.05; done; echo "timed out waiting for $2 in $1" >&2; cat "$1" >&2; exit 1; }
# freeport: a free loopback port.
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# ready URL: wait until /readyz answers 200.
ready() { for _ in $(seq 1 600); do curl -fsS -o /dev/null "$1/readyz" 2>/dev/null && return; sleep 0.05; done; echo "$1 never became ready" >&2; exit 1; }

"$work/upstream" -ca-out "$work/ca.pem" >"$work/upstream.out" 2>&1 & pids+=($!)
UPPID=$!
UP=$(waitline "$work/upstream.out" https://)
head -c 32 /dev/urandom | base64 >"$work/master.key"
chmod 600 "$work/master.key"
ADMIN=gth_$(head -c 40 /dev/urandom | base32 | tr -d '=' | tr 'A-Z' 'a-z' | head -c 52)

# ticks PID...: user+system clock ticks of the processes (0 for gone ones).
ticks() { local s=0 p; for p in "$@"; do [ -r "/proc/$p/stat" ] && s=$((s + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $s; }
pgpids() { echo "$PGMAIN" $(pgrep -P "$PGMAIN" || true); }
busy() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9" "$2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
HZ=$(getconf CLK_TCK)
CORES=$(nproc)

# start_config NAME N STORE: start N replicas (replica 0 first) and set them up.
start_config() {
  local name=$1 n=$2 store=$3 i port
  GH=() GHPIDS=()
  for i in $(seq 0 $((n - 1))); do
    port=$(freeport)
    local args=(server --listen "127.0.0.1:$port" --data-dir "$work/$name-data-$i" --master-key-file "$work/master.key"
      --upstream-ca-file "$work/ca.pem" --log-level warn)
    [ "$store" != sqlite ] && args+=(--store "$store&application_name=$name-$i")
    GATEHOUSE_BOOTSTRAP_TOKEN=$ADMIN "$work/gatehouse" "${args[@]}" >"$work/$name-$i.out" 2>"$work/$name-$i.err" &
    pids+=($!) GHPIDS+=($!) GH+=("http://127.0.0.1:$port")
    ready "${GH[$i]}"
    if [ "$i" = 0 ]; then setup "${GH[0]}"; fi
  done
  for u in "${GH[@]}"; do curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "$u/api/2.0/unity-catalog/connections/bench/proxy/x"; done
  CURLS[$name]="${GH[*]}" CPIDS[$name]="${GHPIDS[*]}" CTOKEN[$name]=$TOKEN
}
declare -A CURLS CPIDS CTOKEN CDB
# use NAME: make a started configuration the current one.
use() { read -r -a GH <<<"${CURLS[$1]}"; read -r -a GHPIDS <<<"${CPIDS[$1]}"; TOKEN=${CTOKEN[$1]}; }

api() { curl -fsS -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' "$@"; }
setup() {
  local GH=$1
  api -X PUT "$GH/api/2.0/gatehouse/network-policy" -d '{"allowed_ip_ranges":["127.0.0.0/8"]}' >/dev/null
  api -X POST "$GH/api/2.0/preview/scim/v2/Users" -d '{"userName":"bench@example.com"}' >/dev/null
  api -X POST "$GH/api/2.0/preview/scim/v2/Groups" -d '{"displayName":"bench-team"}' >/dev/null
  local GID UID_
  GID=$(api "$GH/api/2.0/preview/scim/v2/Groups?filter=displayName%20eq%20%22bench-team%22" | sed 's/.*"id":"\([^"]*\)".*/\1/')
  UID_=$(api "$GH/api/2.0/preview/scim/v2/Users?filter=userName%20eq%20%22bench%40example.com%22" | sed 's/.*"Resources":\[{[^}]*"id":"\([^"]*\)".*/\1/')
  api -X PATCH "$GH/api/2.0/preview/scim/v2/Groups/$GID" -d "{\"Operations\":[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"$UID_\"}]}]}" >/dev/null
  api -X POST "$GH/api/2.1/unity-catalog/connections" -d "{\"name\":\"bench\",\"options\":{\"host\":\"$UP\",\"bearer_token\":\"bench-token\"}}" >/dev/null
  api -X PATCH "$GH/api/2.1/unity-catalog/permissions/connection/bench" -d '{"changes":[{"principal":"bench-team","add":["USE_CONNECTION"]}]}' >/dev/null
  TOKEN=$(api -X POST "$GH/api/2.0/token-management/on-behalf-of/tokens" -d '{"user_name":"bench@example.com"}' | sed 's/.*"token_value":"\([^"]*\)".*/\1/')
}

# load NAME DB: wrk on every replica at once (CONNS split evenly); prints one table row.
load() {
  local name=$1 db=$2 n=${#GH[@]} per i out rps=0 non2xx=0
  per=$(( (CONNS + n - 1) / n ))
  local warm=()
  for u in "${GH[@]}"; do wrk -t1 -c"$per" -d2s -H "Authorization: Bearer $TOKEN" "$u/api/2.0/unity-catalog/connections/bench/proxy/x" >/dev/null 2>&1 & warm+=($!); done
  for p in "${warm[@]}"; do wait "$p"; done
  local c0 t0 b0 db0 gh0 pg0 up0
  read -r b0 t0 < <(busy)
  gh0=$(ticks "${GHPIDS[@]}") pg0=$(ticks $(pgpids)) up0=$(ticks "$UPPID")
  [ -n "$db" ] && db0=$(psqlc "SELECT xact_commit||' '||tup_inserted FROM pg_stat_database WHERE datname='$db'")
  local wpids=()
  for i in $(seq 0 $((n - 1))); do
    wrk -t1 -c"$per" -d"${DURATION}s" -H "Authorization: Bearer $TOKEN" "${GH[$i]}/api/2.0/unity-catalog/connections/bench/proxy/x" >"$work/wrk-$name-$i.out" 2>&1 &
    wpids+=($!)
  done
  # wrk's own CPU: sampled just before it ends (its ticks vanish with it).
  sleep "$((DURATION - 1))"
  local wk; wk=$(ticks "${wpids[@]}")
  for p in "${wpids[@]}"; do wait "$p"; done
  local b1 t1 gh1 pg1 up1 db1
  read -r b1 t1 < <(busy)
  gh1=$(ticks "${GHPIDS[@]}") pg1=$(ticks $(pgpids)) up1=$(ticks "$UPPID")
  [ -n "$db" ] && db1=$(psqlc "SELECT xact_commit||' '||tup_inserted FROM pg_stat_database WHERE datname='$db'")
  for i in $(seq 0 $((n - 1))); do
    out=$(cat "$work/wrk-$name-$i.out")
    if echo "$out" | grep -q "Non-2xx"; then echo "$name replica $i: non-2xx answers:" >&2; echo "$out" >&2; exit 1; fi
    rps=$(awk -v a="$rps" -v b="$(echo "$out" | awk '/^Requests\/sec/ {print $2}')" 'BEGIN {printf "%.0f", a+b}')
  done
  local total=$((t1 - t0))
  share() { awk -v a="$1" -v t="$total" 'BEGIN {if (t>0) printf "%.0f%%", 100*a/t; else print "-"}'; }
  local ghp pgp upp wkp other idle
  ghp=$(share $((gh1 - gh0))) pgp=$(share $((pg1 - pg0))) upp=$(share $((up1 - up0)))
  # wrk ran DURATION-1 of DURATION seconds when sampled: scale to the whole run.
  wkp=$(share $((wk * DURATION / (DURATION - 1))))
  other=$(awk -v b=$((b1 - b0)) -v g=$((gh1 - gh0)) -v p=$((pg1 - pg0)) -v u=$((up1 - up0)) -v w=$((wk * DURATION / (DURATION - 1))) -v t="$total" 'BEGIN {o=b-g-p-u-w; if (o<0) o=0; printf "%.0f%%", 100*o/t}')
  idle=$(awk -v b=$((b1 - b0)) -v t="$total" 'BEGIN {printf "%.0f%%", 100*(t-b)/t}')
  local commits="-" inserted="-"
  if [ -n "$db" ]; then
    local reqs; reqs=$(awk -v r="$rps" -v d="$DURATION" 'BEGIN {print r*d}')
    commits=$(awk -v a="${db0% *}" -v b="${db1% *}" -v r="$reqs" 'BEGIN {printf "%.3f", (b-a)/r}')
    inserted=$(awk -v a="${db0#* }" -v b="${db1#* }" -v r="$reqs" 'BEGIN {printf "%.3f", (b-a)/r}')
  fi
  echo "$name $rps $ghp $pgp $wkp $upp $other $idle $commits $inserted"
}

# Every configuration runs side by side for the whole run (the idle ones cost next
# to nothing); each round loads them one after the other, so that the machine's
# other work weighs on all alike, and the table shows the median round of each.
configs=(sqlite-1)
start_config sqlite-1 1 sqlite
if ! "$work/gatehouse" server --help 2>&1 | grep -q -- '--store'; then
  echo "this gatehouse has no --store flag (the PostgreSQL store is not merged): nothing to compare" >&2
  exit 1
fi
for n in 1 2 3; do
  CDB[pg-$n]=bench_pg$n
  psqlc "CREATE DATABASE bench_pg$n"
  start_config "pg-$n" "$n" "postgres://gatehouse@/bench_pg$n?host=$pgdir"
  configs+=("pg-$n")
done
rows=()
for round in $(seq 1 "$ROUNDS"); do
  for cfg in "${configs[@]}"; do
    use "$cfg"
    row=$(load "$cfg" "${CDB[$cfg]:-}")
    rows+=("$row")
    echo "round $round: $row" >&2
  done
done
use pg-3
REV=$(GATEHOUSE_TOKEN=$ADMIN "$work/revokelat" -a "${GH[0]}" -b "${GH[1]}" -upstream "$UP" -n "$REVOKES")

# median NAME: the row of NAME's median round by requests/s.
median() { printf '%s\n' "${rows[@]}" | awk -v n="$1" '$1==n' | sort -k2,2g | awk '{r[NR]=$0} END {print r[int((NR+1)/2)]}'; }
base=$(median sqlite-1 | awk '{print $2}')
printf '\n%-9s %11s %7s | %-49s | %s\n' config 'requests/s' ratio 'CPU share of all cores during the run' 'PostgreSQL per request'
printf '%-9s %11s %7s | %9s %10s %6s %8s %6s %6s | %8s %6s\n' '' '' '' replicas postgres wrk upstream other idle commits rows
for cfg in "${configs[@]}"; do
  set -- $(median "$cfg")
  printf '%-9s %11s %7s | %9s %10s %6s %8s %6s %6s | %8s %6s\n' "$1" "$2" "$(awk -v a="$2" -v b="$base" 'BEGIN {printf "%.2f", a/b}')" "$3" "$4" "$5" "$6" "$7" "$8" "$9" "${10}"
done
printf '\nmedian of %s rounds; wrk -t1 per replica, %s connections in all, %ss per config, %s cores, loopback; "other" is the rest of the machine\n' "$ROUNDS" "$CONNS" "$DURATION" "$CORES"
printf '\n%s\n(goal of issue 11: revoke p99 <= 100 ms)\n' "$REV"
