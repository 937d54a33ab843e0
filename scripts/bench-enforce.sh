#!/usr/bin/env bash
# Measures the decision endpoint's cost through real nginx on loopback
# (BENCHMARKS.md, "Decision endpoint"): wrk against a static page served
# without and with auth_request to vakt (configs/enforce-nginx*.conf), and
# wrk straight at the endpoint with vakt pinned to one core.
#
#   scripts/bench-enforce.sh [DURATION] [CONNECTIONS] [tcp|unix]   (default 20s, 16, tcp)
#
# tcp: enforce.listen on a loopback port; unix: on a unix socket, as the
# nginx snippet suggests (wrk cannot reach a socket: the endpoint's own
# cost is then its CPU time per request through nginx).
#
# Needs nginx (with auth_request), wrk, taskset, curl and Go; CHDB_LIB_PATH
# for the embedded ClickHouse engine of `vakt run`.
set -euo pipefail
dur=${1:-20s}
conns=${2:-16}
mode=${3:-tcp}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
plain=$(port); guarded=$(port)
case $mode in
  tcp) listen="127.0.0.1:$(port)"; upstream=$listen; curl_to=(); endpoint_url="http://$listen" ;;
  unix) listen="unix:$work/enforce.sock"; upstream=$listen; curl_to=(--unix-socket "$work/enforce.sock"); endpoint_url=http://localhost ;;
  *) echo "mode: tcp or unix, not $mode"; exit 2 ;;
esac

# VAKT_BIN: a vakt built elsewhere (another commit, to compare).
if [ -n "${VAKT_BIN:-}" ]; then cp "$VAKT_BIN" "$work/vakt"; else (cd "$repo" && go build -o "$work/vakt" ./cmd/vakt); fi
echo '192.0.2.1 - - [06/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0"' > "$work/seed.log"
cat > "$work/vakt.yaml" <<YAML
data_dir: $work/data
nats: {listen: "127.0.0.1:0", store_key_file: $work/nats-store.key}
clickhouse: {listen: "127.0.0.1:0"}
http: {listen: ""}
ingest: {files: ["$work/seed.log"], site: bench, from_start: true}
enforce: {listen: "$listen"}
alerts: {enabled: false}   # only the endpoint's own work on vakt's core
YAML
# vakt on core 1 only; nginx and wrk on core 0.
taskset -c 1 "$work/vakt" run --config "$work/vakt.yaml" > "$work/vakt.out" 2>&1 &
vakt_pid=$!
pids+=($vakt_pid)
for _ in $(seq 300); do
  curl -sf "${curl_to[@]}" "$endpoint_url/healthz" >/dev/null 2>&1 && break; sleep 0.2
done
# The seed line makes the pseudonymiser create the epoch's salt.
for _ in $(seq 300); do
  out=$("$work/vakt" sql --config "$work/vakt.yaml" --format tsv "SELECT count() FROM vakt.requests" 2>/dev/null || true)
  [ "$out" = "1" ] && break; sleep 0.2
done
epoch=$("$work/vakt" salts status --config "$work/vakt.yaml" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["current_epoch"])')
for i in $(seq 1 50); do
  "$work/vakt" decisions add --config "$work/vakt.yaml" --client $((1000000 + i)) --epoch "$epoch" --duration 1h >/dev/null
done
key=$(cat "$work/data/credentials/enforce.key")

mkdir -p "$work/nginx/www" "$work/nginx/tmp"
echo hello > "$work/nginx/www/index.html"
sed "s|VAKT_ENDPOINT|$upstream|" "$repo/configs/enforce-nginx-upstream.conf" > "$work/nginx/upstream.conf"
sed -e "s|VAKT_KEY|$key|" -e "s|VAKT_SITE|bench|" -e "s|/var/log/nginx|$work/nginx|" "$repo/configs/enforce-nginx.conf" > "$work/nginx/enforce.conf"
cat > "$work/nginx/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
error_log $work/nginx/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp/body; proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fcgi; uwsgi_temp_path $work/nginx/tmp/uwsgi; scgi_temp_path $work/nginx/tmp/scgi;
  include $work/nginx/upstream.conf;
  server { listen 127.0.0.1:$plain; root $work/nginx/www; }
  server { listen 127.0.0.1:$guarded; root $work/nginx/www; include $work/nginx/enforce.conf; }
}
NGINX
taskset -c 0 nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
nginx_pid=$!
pids+=($nginx_pid)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$plain/" && break; sleep 0.1; done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$guarded/")
[ "$code" = 200 ] || { echo "nginx with auth_request answers $code"; cat "$work/nginx/error.log"; exit 1; }

# threads PID: "name ticks" of each thread (the engine's and Go's).
threads() { for f in /proc/"$1"/task/*/stat; do sed -E 's/^[0-9]+ \((.*)\) .*/\1/' "$f" | tr ' ' _; awk '{print $(NF-38)+$(NF-37)}' "$f"; done | paste - - ; }
# busiest BEFORE AFTER: the threads that used the most CPU between two
# threads snapshots.
busiest() { awk 'NR==FNR {t[$1]+=$2; next} {t[$1]-=$2} END {for (n in t) if (t[n] > 0) print t[n], n}' "$2" "$1" | sort -rn | head -6 | awk '{printf "%s: %s, ", $2, $1}'; }
# CPU seconds a process has used (user + system), from /proc.
cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14+$15)/t}' "/proc/$1/stat"; }
# run_wrk NAME PID URL [wrk args]: wrk's latency lines, then the requests
# served per CPU second of PID and of vakt (the machine may be shared: CPU
# time, unlike latency, does not count the time others had the core).
run_wrk() {
  local name=$1 pid=$2 c=$3 url=$4; shift 4
  local before after vbefore vafter out n
  before=$(cpu "$pid"); vbefore=$(cpu "$vakt_pid"); threads "$vakt_pid" > "$work/t0"
  out=$(taskset -c 0 wrk -t1 -c"$c" -d"$dur" --latency "$@" "$url")
  after=$(cpu "$pid"); vafter=$(cpu "$vakt_pid"); threads "$vakt_pid" > "$work/t1"
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "== $name"
  echo "$out" | grep -E '50%|90%|99%|Requests/sec|Non-2xx'
  echo "  $n requests, $(echo "$after - $before" | bc) CPU s of the measured process: $(echo "$n / ($after - $before + 0.001)" | bc) requests per CPU second"
  echo "  vakt: $(echo "$vafter - $vbefore" | bc) CPU s: $(echo "$n / ($vafter - $vbefore + 0.001)" | bc) requests per CPU second of vakt; its busiest threads: $(busiest "$work/t0" "$work/t1")"
}
echo "enforce.listen: $listen; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
threads "$vakt_pid" > "$work/threads0"
idle0=$(cpu "$vakt_pid"); sleep 10; idle1=$(cpu "$vakt_pid")
threads "$vakt_pid" > "$work/threads1"
echo "vakt idle (no requests): $(echo "$idle1 - $idle0" | bc) CPU s in 10 s; busiest threads (name: CPU ticks of $(getconf CLK_TCK)/s):" \
  "$(busiest "$work/threads0" "$work/threads1")"
# Latency: one connection, one request at a time (nothing queues).
run_wrk "latency: nginx, static page, no auth_request, 1 connection" "$nginx_pid" 1 "http://127.0.0.1:$plain/"
run_wrk "latency: nginx, static page, auth_request to vakt, 1 connection" "$nginx_pid" 1 "http://127.0.0.1:$guarded/"
# Throughput: $conns connections.
run_wrk "throughput: nginx, static page, no auth_request (CPU: nginx)" "$nginx_pid" "$conns" "http://127.0.0.1:$plain/"
run_wrk "throughput: nginx, static page, auth_request to vakt (CPU: nginx)" "$nginx_pid" "$conns" "http://127.0.0.1:$guarded/"
if [ "$mode" = tcp ]; then
  run_wrk "throughput: the decision endpoint alone, vakt on one core (CPU: vakt)" "$vakt_pid" "$conns" "$endpoint_url/decide" \
    -H "X-Vakt-Key: $key" -H "X-Forwarded-For: 198.51.100.7" -H "X-Vakt-Site: bench"
fi
echo "fail-open events logged by nginx: $(cat "$work/nginx/vakt-fail-open.log" 2>/dev/null | wc -l)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
