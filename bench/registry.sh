#!/usr/bin/env bash
# Registry benchmarks (docs/benchmarks.md, "Registry"): requests per second on loopback with wrk, and log
# appends per second. A benchmark, not a test: it asserts nothing about speed and prints figures.
#
# Read path: builds the release server, starts it on a fresh temporary data directory, and runs wrk against
# each target, ROUNDS times in turn, so that every figure has baselines from the same run:
#   - the server's own /healthz (a constant 3-byte body: HTTP, routing and middleware only), and
#   - nginx serving the same bytes as static files (sendfile), the usual yardstick for a static read path.
# Targets (name|registry path|file nginx serves, the bytes the registry answered, saved once):
#   /healthz                the baseline
#   /root.json              a signed document the server holds in memory
#   /index/bench/notes.json the index route, serving a file seeded into the blob store's named files with
#                           root.json's bytes as STAND-IN CONTENT (the route and its disk read are real; a
#                           real index document needs a verified publisher and a registered app). Set
#                           LOCARA_BENCH_INDEX_PATH to measure a real one in LOCARA_BENCH_DATA as well.
#   /log/checkpoint         the latest signed checkpoint (one SQLite read per request)
#   /blobs/sha256/<hex>     a 1 MiB pseudo-random blob seeded into the blob store
# A target that does not answer 200 is skipped with a note. To add a target, add one line to `targets`.
#
# Log appends: runs crates/locara-store/benches/log_append.rs (SqliteStore::append_log_entries against a
# bare SQLite INSERT transaction, both fsynced) in release mode.
#
# Usage: bench/registry.sh
# Environment: DURATION (seconds per wrk run, 10), CONNECTIONS (64), THREADS (wrk threads, 1), ROUNDS (3),
#   LOCARA_LOG (the server's log filter; info as deployed, written to a temp file),
#   LOCARA_BENCH_DATA (serve a copy of this data directory instead of a fresh one), LOCARA_BENCH_INDEX_PATH,
#   SKIP_NGINX=1, SKIP_APPENDS=1 (read path only), SKIP_READS=1 (appends only), CARGO_TARGET_DIR.
#   As root it installs wrk and nginx-light (Debian packages) if missing.
# Traffic goes only to 127.0.0.1, to the servers this script started; every wrk run stops after DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
export LOCARA_LOG=${LOCARA_LOG:-info}

server_pid=""
nginx_pid=""
tmp=""
cleanup() {
  local pid
  for pid in $server_pid $nginx_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT

machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r); $(rustc --version)"
}

# Installs Debian package $2 for command $1 if missing (as root); returns 1 if it is still missing.
ensure() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; } >/dev/null
  fi
  command -v "$1" >/dev/null 2>&1
}

# A TCP port on 127.0.0.1 nothing listens on.
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

# Prints "requests/s p50 p99 transfer/s bad-responses socket-errors" for one wrk run against $1.
wrk_run() {
  wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "$1" | awk '
    /Requests\/sec:/ { rps = $2 }
    /Transfer\/sec:/ { transfer = $2 }
    $1 == "50%" { p50 = $2 }
    $1 == "99%" { p99 = $2 }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { errors = $0; sub(/.*Socket errors: /, "", errors); gsub(/ /, "", errors) }
    END { printf "%s %s %s %s %s %s\n", rps, p50, p99, transfer, (bad == "" ? 0 : bad), (errors == "" ? "none" : errors) }'
}

# Stops the benchmark if server $2 (pid $1) has exited, showing the end of its log $3.
alive() {
  kill -0 "$1" 2>/dev/null && return
  echo "bench/registry.sh: $2 exited during the benchmark; the end of its log:" >&2
  tail -n 20 "$3" >&2
  exit 1
}

start_registry() {
  local bin=$1 data=$2
  : >"$tmp/stdout"
  # Appending, so the script can empty the log between runs (at info it grows by ~300 bytes a request).
  "$bin" serve --listen 127.0.0.1:0 --data "$data" >>"$tmp/stdout" 2>>"$tmp/registry.log" &
  server_pid=$!
  local deadline=$((SECONDS + 30))
  registry_url=""
  while [ -z "$registry_url" ]; do
    if [ $SECONDS -gt $deadline ] || ! kill -0 "$server_pid" 2>/dev/null; then
      echo "bench/registry.sh: the registry did not start; its log:" >&2
      cat "$tmp/registry.log" >&2
      exit 1
    fi
    registry_url=$(sed -n 's/^Locara registry listening on //p' "$tmp/stdout")
    [ -n "$registry_url" ] || sleep 0.1
  done
}

start_nginx() {
  local port
  port=$(free_port)
  mkdir -p "$tmp/nginx"
  # As close to nginx's defaults as a foreground, unprivileged-path instance gets: one worker per core,
  # sendfile, keep-alive, an access log (the registry logs each request at info too).
  cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; }
http {
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  access_log $tmp/nginx/access.log;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$port;
    root $tmp/static;
  }
}
EOF
  nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
  nginx_pid=$!
  nginx_url="http://127.0.0.1:$port"
  local deadline=$((SECONDS + 10))
  until curl -s -o /dev/null "$nginx_url/healthz"; do
    if [ $SECONDS -gt $deadline ] || ! kill -0 "$nginx_pid" 2>/dev/null; then
      echo "bench/registry.sh: nginx did not start; its log:" >&2
      cat "$tmp/nginx/error.log" >&2
      exit 1
    fi
    sleep 0.1
  done
}

reads() {
  ensure wrk wrk || { echo "bench/registry.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }
  local nginx=yes
  if [ "${SKIP_NGINX:-}" = 1 ] || ! ensure nginx nginx-light; then
    nginx=""
    echo "note: no nginx baseline (SKIP_NGINX=1, or nginx could not be installed)" >&2
  fi
  cargo build --release --locked -p locara-registry
  local bin=${CARGO_TARGET_DIR:-target}/release/locara-registry
  tmp=$(mktemp -d)
  local data=$tmp/data
  if [ -n "${LOCARA_BENCH_DATA:-}" ]; then
    cp -a "$LOCARA_BENCH_DATA" "$data"
  fi

  # A 1 MiB pseudo-random blob, put where the filesystem blob store keeps blobs: blobs/sha256/<hex> under
  # the store's directory, <data>/blobs.
  mkdir -p "$data/blobs/blobs/sha256" "$data/blobs/named/index/bench"
  head -c 1048576 /dev/urandom >"$tmp/blob"
  local blob_hex
  blob_hex=$(sha256sum "$tmp/blob" | cut -d' ' -f1)
  mv "$tmp/blob" "$data/blobs/blobs/sha256/$blob_hex"

  start_registry "$bin" "$data"
  # The index route's stand-in document: root.json's bytes (a signed JSON document of similar size).
  curl -sf -o "$data/blobs/named/index/bench/notes.json" "$registry_url/root.json"

  # name|registry path|file name for nginx. The first line is the baseline; add targets here, one line each.
  local targets=(
    "/healthz (baseline)|/healthz|healthz"
    "/root.json (in memory)|/root.json|root.json"
    "index route, stand-in content|/index/bench/notes.json|notes.json"
    "/log/checkpoint|/log/checkpoint|checkpoint"
    "1 MiB blob|/blobs/sha256/$blob_hex|blob"
  )
  if [ -n "${LOCARA_BENCH_INDEX_PATH:-}" ]; then
    targets+=("index document|$LOCARA_BENCH_INDEX_PATH|index.json")
  fi

  mkdir -p "$tmp/static"
  local measured=() target name path file status size
  for target in "${targets[@]}"; do
    IFS='|' read -r name path file <<<"$target"
    read -r status size < <(curl -s -o "$tmp/static/$file" -w '%{http_code} %{size_download}\n' "$registry_url$path")
    if [ "$status" = 200 ]; then
      measured+=("$target")
      echo "measuring $name: $path ($size bytes)" >&2
    else
      echo "skipping $name: $path answers $status" >&2
    fi
  done
  # nginx's workers run as an unprivileged user: let them through the temp dir to the copies only.
  chmod 711 "$tmp"
  chmod -R a+rX "$tmp/static"
  [ -z "$nginx" ] || start_nginx

  local results=$tmp/results round
  : >"$results"
  for round in $(seq 1 "$ROUNDS"); do
    for target in "${measured[@]}"; do
      IFS='|' read -r name path file <<<"$target"
      echo "round $round: $name" >&2
      echo "$round|$name|locara|$(wrk_run "$registry_url$path")" >>"$results"
      alive "$server_pid" registry "$tmp/registry.log"
      : >"$tmp/registry.log"
      if [ -n "$nginx" ]; then
        echo "$round|$name|nginx|$(wrk_run "$nginx_url/$file")" >>"$results"
        alive "$nginx_pid" nginx "$tmp/nginx/error.log"
        : >"$tmp/nginx/access.log"
      fi
    done
  done

  echo
  echo "## Read path"
  machine
  echo "wrk $(wrk --version 2>&1 | head -1 | awk '{print $2}') -t$THREADS -c$CONNECTIONS, ${DURATION}s per run, $ROUNDS rounds; registry LOCARA_LOG=$LOCARA_LOG${nginx:+; $(nginx -v 2>&1 | sed 's/.*: //')}"
  echo
  echo "| what | registry requests/s | ÷ registry /healthz | nginx, same bytes, requests/s | registry ÷ nginx | registry p50 / p99 | registry transfer/s | bad answers, socket errors |"
  echo "|---|---|---|---|---|---|---|---|"
  local baseline_name=${measured[0]%%|*}
  awk -F'|' -v baseline="$baseline_name" '
    function median(list, n,    i, j, t) {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (list[j] < list[i]) { t = list[i]; list[i] = list[j]; list[j] = t }
      return (n % 2) ? list[(n + 1) / 2] : (list[n / 2] + list[n / 2 + 1]) / 2
    }
    {
      split($4, f, " ")
      rps[$2, $3, $1] = f[1]; rounds[$1] = 1
      if (!($2 in seen)) { seen[$2] = 1; order[++count] = $2 }
      if ($3 == "locara") { p[$2] = p[$2] " " f[2] "/" f[3]; transfer[$2] = transfer[$2] " " f[4] }
      bad[$2] = bad[$2] " " $3 ":" f[5]; if (f[6] != "none") errors[$2] = errors[$2] " " $3 ":" f[6]
    }
    END {
      for (i = 1; i <= count; i++) {
        name = order[i]; n = 0; m = 0; k = 0; l = 0
        for (round in rounds) {
          ours[++n] = rps[name, "locara", round]
          if (rps[baseline, "locara", round] > 0) vs_baseline[++m] = rps[name, "locara", round] / rps[baseline, "locara", round]
          if ((name, "nginx", round) in rps && rps[name, "nginx", round] > 0) {
            theirs[++k] = rps[name, "nginx", round]
            vs_nginx[++l] = rps[name, "locara", round] / rps[name, "nginx", round]
          }
        }
        printf "| %s | %.0f | %s | %s | %s |%s |%s |%s;%s |\n", name, median(ours, n), (m ? sprintf("%.3f", median(vs_baseline, m)) : "—"),
          (k ? sprintf("%.0f", median(theirs, k)) : "—"), (l ? sprintf("%.3f", median(vs_nginx, l)) : "—"),
          p[name], transfer[name], bad[name], (errors[name] == "" ? " none" : errors[name])
      }
    }' "$results"
  echo
  echo "Requests/s are medians over rounds; ratios are medians of same-round ratios; latency and transfer are per round."
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  if [ -n "$nginx_pid" ]; then
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
    nginx_pid=""
  fi
}

appends() {
  echo
  echo "## Log appends"
  machine
  echo "database directory: ${TMPDIR:-/tmp} on $(df -T "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $2 " (" $1 ")"}')"
  cargo test --release --locked -p locara-store --bench log_append -- --ignored --nocapture 2>&1 |
    grep -E '^(log appends|\|)'
}

[ "${SKIP_READS:-}" = 1 ] || reads
[ "${SKIP_APPENDS:-}" = 1 ] || appends
