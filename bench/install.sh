#!/usr/bin/env bash
# Install benchmarks (docs/benchmarks.md, "Install"): `locara install` of one ~20 MB app, and of 200 small
# apps in one command, from a registry on loopback. A benchmark, not a test: it asserts nothing about speed
# and prints figures.
#
# Set-up (not timed): builds the release registry and client, writes BIG app + SMALL_APPS example apps into a
# temp dir, and starts `locara-registry serve --demo --demo-apps DIR` on a fresh data directory, which
# publishes every one of them through the real builder (two sandboxed builds each). It waits until every
# app's index lists its release.
#   demo/bench-big              `sh build.sh`: a 2-line launcher script and share/part-00..19, BIG_BYTES of
#                               pseudo-random bytes in 20 parts, from AES-128-CTR with a fixed key (openssl),
#                               so both builds give the same bytes; zstd cannot compress them
#   demo/bench-small-001 … NNN  one command writing one 2-line launcher script (about 40 bytes)
#
# Measured, ROUNDS times in turn, each in fresh directories, after a `sync` (and, for locara, where its time
# went, from the registry's request log):
#   locara  `locara install demo/bench-big --min-age 0 -q`, and
#           `locara install demo/bench-small-001 … demo/bench-small-NNN --min-age 0 -q` (one command), each
#           into a fresh LOCARA_HOME that has the registry added (`locara registry add`, not timed)
#   floor   the same artifact bytes with no verification logic: one `curl` process fetching every artifact
#           blob from the registry (/blobs/sha256/<hex>, a new connection per blob: `Connection: close`), one
#           `sha256sum` over all of them (compared with the expected digests), then `zstd -d -c BLOB | tar -x
#           -C DIR` per artifact into its own directory. It fetches only the artifacts: no index, log entries,
#           proofs or provenance. For the small apps it is also run with one keep-alive connection for all
#           blobs, as a diagnostic: before the registry set TCP_NODELAY, a streamed blob on a reused
#           connection waited about 40 ms for a delayed ACK (docs/benchmarks.md, "Install").
#   npm     `npm install` of equivalent packages (the same files: the big one's 20 parts and launcher, or one
#           small launcher each, plus a package.json with a `bin`; gzip tarballs made with tar, as `npm pack`
#           makes them) from a local npm registry: a 20-line Node HTTP server started by this script, serving
#           packuments (dist.tarball, dist.integrity sha512, dist.shasum) and the tarballs. A fresh project
#           and a fresh npm cache each time, `--no-audit --no-fund --ignore-scripts`, an empty userconfig.
#           Skipped, with the reason printed, when node/npm are missing and cannot be installed.
# Also measured: the peak resident memory of each `locara install` (GNU time's %M, when /usr/bin/time exists),
# printed with its ratio to the artifact's size (artifacts stream to disk, so it must not grow with them; for a
# 1 GB app: BIG_BYTES=1000000000 SKIP_SMALL=1 LOCARA_REGISTRY_BUILD_MAX_ARTIFACT_BYTES=2000000000, the
# registry's artifact limit being 512 MiB by default).
# Also measured at the start of each round: an fsync probe (perl: 100 files of 4 KiB written and fsynced),
# because locara fsyncs what it unpacks and the others do not, and fsync latency on a shared disk varies.
# Printed: medians, min and max of wall time per workload (ratios are medians of same-round ratios), every
# round's figures, and where locara's time went (start-up, resolve, download, unpack), read from the
# registry's request log (needs LOCARA_LOG to keep the `info` request lines).
#
# Usage: bench/install.sh
# Environment: ROUNDS (repetitions, 5), SMALL_APPS (200), BIG_BYTES (20000000), BUILD_WORKERS (build workers
#   inside the registry, 2), LOCARA_LOG (the registry's log filter, info, written to a temp file),
#   SKIP_NPM=1, SKIP_BIG=1, SKIP_SMALL=1, SKIP_KEEPALIVE_FLOOR=1, KEEP=1 (keep the temp dir and print its
#   path), CARGO_TARGET_DIR, SKIP_BUILD=1 (use the binaries already in $CARGO_TARGET_DIR/release).
#   As root it installs curl, zstd, openssl and git (Debian packages) if missing, and nodejs + npm unless
#   SKIP_NPM=1.
# Traffic goes only to 127.0.0.1, to the servers this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
SMALL_APPS=${SMALL_APPS:-200}
BIG_BYTES=${BIG_BYTES:-20000000}
BUILD_WORKERS=${BUILD_WORKERS:-2}
export LOCARA_LOG=${LOCARA_LOG:-info}

server_pid=""
npm_pid=""
tmp=""
cleanup() {
  local pid
  for pid in $server_pid $npm_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$tmp" ]; then
    if [ "${KEEP:-}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
  fi
}
trap cleanup EXIT

say() { echo "bench/install.sh: $*" >&2; }

machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r); $(rustc --version); load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Installs Debian packages $2… for command $1 if missing (as root); returns 1 if it is still missing.
ensure() {
  local command=$1
  shift
  command -v "$command" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >/dev/null 2>&1 || true
  fi
  command -v "$command" >/dev/null 2>&1
}

# Wall-clock seconds since the epoch, with microseconds (bash 5).
now() { echo "${EPOCHREALTIME/,/.}"; }

# Runs "$@" with its output to $tmp/last.out and .err; prints the wall time in seconds. A failure stops the
# benchmark with the command's standard error.
timed() {
  local start end
  sync
  start=$(now)
  if ! "$@" >"$tmp/last.out" 2>"$tmp/last.err"; then
    say "this failed: $*"
    tail -n 30 "$tmp/last.err" >&2
    tail -n 10 "$tmp/last.out" >&2
    exit 1
  fi
  end=$(now)
  echo "$start $end" >"$tmp/last.times"
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f\n", b - a }'
}

# ---------------------------------------------------------------------------------------------------------
# The example apps.

big_build_script() {
  cat <<EOF
set -eu
mkdir -p out/share
printf '#!/bin/sh\necho bench-big\n' > out/bench-big
chmod 755 out/bench-big
openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f -iv 00000000000000000000000000000000 -in /dev/zero 2>/dev/null |
  head -c $BIG_BYTES | split -b $((BIG_BYTES / 20)) -d -a 2 - out/share/part-
EOF
}

small_name() { printf 'bench-small-%03d' "$1"; }

write_apps() {
  local apps=$1 i name
  mkdir -p "$apps/bench-big"
  cat >"$apps/bench-big/locara.toml" <<'EOF'
[app]
name = "demo/bench-big"
version = "1.0.0"
description = "Install benchmark: a launcher and 20 MB of pseudo-random data"
license = "MIT"
source = "https://git.example.com/demo/bench-big"

[build]
command = ["sh", "build.sh"]
outputs = { "bin/bench-big" = "out/bench-big", "share" = "out/share" }
entry = "bin/bench-big"
EOF
  big_build_script >"$apps/bench-big/build.sh"
  for i in $(seq 1 "$SMALL_APPS"); do
    name=$(small_name "$i")
    mkdir -p "$apps/$name"
    cat >"$apps/$name/locara.toml" <<EOF
[app]
name = "demo/$name"
version = "1.0.0"
description = "Install benchmark: one small file"
license = "MIT"
source = "https://git.example.com/demo/$name"

[build]
command = ["sh", "-c", "printf '#!/bin/sh\\\\necho $name\\\\n' > app && chmod 755 app"]
outputs = { "bin/$name" = "app" }
entry = "bin/$name"
EOF
  done
}

# ---------------------------------------------------------------------------------------------------------
# The registry.

start_registry() {
  local bin=$1 data=$2 apps=$3
  LOCARA_REGISTRY_BUILD_WORKERS=$BUILD_WORKERS "$bin" serve --listen 127.0.0.1:0 --data "$data" --demo \
    --demo-apps "$apps" >"$tmp/registry.stdout" 2>"$tmp/registry.log" &
  server_pid=$!
  local deadline=$((SECONDS + 120))
  registry_url=""
  while [ -z "$registry_url" ]; do
    if [ $SECONDS -gt $deadline ] || ! kill -0 "$server_pid" 2>/dev/null; then
      say "the registry did not start; its log:"
      tail -n 30 "$tmp/registry.log" >&2
      exit 1
    fi
    registry_url=$(sed -n 's/^Locara registry listening on //p' "$tmp/registry.stdout")
    [ -n "$registry_url" ] || sleep 0.1
  done
  root_digest=$(sed -n 's/^root.json: //p' "$tmp/registry.stdout")
}

# Prints the artifact digest (sha256:<hex>) of demo/$1's release, once its index lists one.
artifact_of() {
  curl -sf "$registry_url/index/demo/$1.json" 2>/dev/null | grep -o '"artifact":"sha256:[0-9a-f]*"' |
    head -n 1 | cut -d'"' -f4 || true
}

# Waits until every app's index lists its release, printing progress; a build that fails stops the script.
wait_for_builds() {
  local apps=("$@") app digest done=0 start=$SECONDS last=$SECONDS
  : >"$tmp/artifacts"
  for app in "${apps[@]}"; do
    while :; do
      digest=$(artifact_of "$app")
      [ -z "$digest" ] || break
      if ! kill -0 "$server_pid" 2>/dev/null; then
        say "the registry exited while building; the end of its log:"
        tail -n 30 "$tmp/registry.log" >&2
        exit 1
      fi
      if grep -q "build failed\|could not be recorded" "$tmp/registry.log"; then
        say "a build failed; from the registry's log:"
        grep -v 'sandbox protections not in force' "$tmp/registry.log" | grep -A3 "build failed\|could not be recorded" | tail -n 30 >&2
        exit 1
      fi
      if [ $((SECONDS - last)) -gt 300 ]; then
        say "no release of demo/$app after 300 s; the end of the registry's log:"
        tail -n 30 "$tmp/registry.log" >&2
        exit 1
      fi
      sleep 0.5
    done
    last=$SECONDS
    echo "$app $digest" >>"$tmp/artifacts"
    done=$((done + 1))
    if [ $((done % 25)) = 0 ] || [ "$done" = "${#apps[@]}" ]; then
      say "built $done of ${#apps[@]} apps ($((SECONDS - start)) s)"
    fi
  done
}

# ---------------------------------------------------------------------------------------------------------
# The three ways to install.

# A fresh LOCARA_HOME with the registry added.
fresh_home() {
  rm -rf "$tmp/home"
  mkdir -p "$tmp/home"
  LOCARA_HOME=$tmp/home "$bin_dir/locara" registry add bench "$registry_url" --root "$root_digest" >/dev/null
}

# `locara install "$@"`; with GNU time (/usr/bin/time), its peak resident memory in KiB goes to $tmp/last.rss.
locara_install() {
  rm -f "$tmp/last.rss"
  if [ -x /usr/bin/time ]; then
    LOCARA_HOME=$tmp/home /usr/bin/time -f %M -o "$tmp/last.rss" "$bin_dir/locara" install "$@" --min-age 0 -q
  else
    LOCARA_HOME=$tmp/home "$bin_dir/locara" install "$@" --min-age 0 -q
  fi
}

# Appends "workload|round|KiB" (the last locara install's peak RSS) to $tmp/rss, when it was measured.
record_rss() {
  [ -s "$tmp/last.rss" ] && echo "$1|$2|$(tail -n 1 "$tmp/last.rss")" >>"$tmp/rss" || true
}

# The floor for the apps $2…: fetch, hash and unpack their artifacts, nothing else. $1 is `close` (one TCP
# connection per blob, `Connection: close`) or `keep-alive` (one connection for all; see docs/benchmarks.md for
# why the floor does not use it).
floor_install() {
  local mode=$1 app hex list=() app_dir
  shift
  : >"$tmp/floor.curl"
  [ "$mode" = keep-alive ] || echo 'header = "Connection: close"' >>"$tmp/floor.curl"
  : >"$tmp/floor.sums"
  for app in "$@"; do
    hex=$(awk -v app="$app" '$1 == app { sub(/^sha256:/, "", $2); print $2 }' "$tmp/artifacts")
    printf 'url = "%s/blobs/sha256/%s"\noutput = "%s/floor/%s.tar.zst"\n' "$registry_url" "$hex" "$tmp" "$app" >>"$tmp/floor.curl"
    printf '%s  %s/floor/%s.tar.zst\n' "$hex" "$tmp" "$app" >>"$tmp/floor.sums"
    list+=("$app")
  done
  # `timed` runs it as an `if` condition, where `set -e` does not apply: every step says when it fails.
  floor_run() {
    mkdir -p "$tmp/floor" || return 1
    curl -sf --config "$tmp/floor.curl" || return 1
    sha256sum --quiet -c "$tmp/floor.sums" || return 1
    for app in "${list[@]}"; do
      app_dir=$tmp/floor/$app
      mkdir "$app_dir" || return 1
      zstd -q -d -c "$tmp/floor/$app.tar.zst" | tar -x -C "$app_dir" || return 1
    done
  }
  rm -rf "$tmp/floor"
  timed floor_run
}

npm_project() {
  local deps="" app
  rm -rf "$tmp/npm-project" "$tmp/npm-cache"
  mkdir -p "$tmp/npm-project" "$tmp/npm-cache"
  for app in "$@"; do
    deps="$deps${deps:+,}\"$app\": \"1.0.0\""
  done
  printf '{ "name": "bench-project", "version": "1.0.0", "private": true, "dependencies": { %s } }\n' "$deps" \
    >"$tmp/npm-project/package.json"
}

npm_install() {
  (cd "$tmp/npm-project" && npm install --registry "$npm_url/" --cache "$tmp/npm-cache" --userconfig "$tmp/npmrc" \
    --no-audit --no-fund --ignore-scripts --no-update-notifier --loglevel=error)
}

# npm packages with the same files as the apps, as gzip tarballs under package/, and their packuments.
write_npm_packages() {
  local root=$tmp/npm-registry app dir tarball integrity shasum
  mkdir -p "$root/tarballs" "$root/packuments" "$tmp/npm-build"
  for app in "$@"; do
    dir=$tmp/npm-build/$app/package
    mkdir -p "$dir/bin"
    if [ "$app" = bench-big ]; then
      (cd "$dir" && big_build_script | sh && mv out/bench-big bin/bench-big && mv out/share share && rmdir out)
    else
      printf '#!/bin/sh\necho %s\n' "$app" >"$dir/bin/$app"
      chmod 755 "$dir/bin/$app"
    fi
    printf '{ "name": "%s", "version": "1.0.0", "description": "Install benchmark", "license": "MIT", "bin": { "%s": "bin/%s" } }\n' \
      "$app" "$app" "$app" >"$dir/package.json"
    tarball=$root/tarballs/$app-1.0.0.tgz
    tar -c -C "$tmp/npm-build/$app" --owner=0 --group=0 --numeric-owner package | gzip -6 -n >"$tarball"
    integrity=$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)
    shasum=$(sha1sum "$tarball" | cut -d' ' -f1)
    printf '{ "name": "%s", "dist-tags": { "latest": "1.0.0" }, "versions": { "1.0.0": { "name": "%s", "version": "1.0.0", "bin": { "%s": "bin/%s" }, "dist": { "tarball": "%s/tarballs/%s-1.0.0.tgz", "integrity": "sha512-%s", "shasum": "%s" } } } }\n' \
      "$app" "$app" "$app" "$app" "$npm_url" "$app" "$integrity" "$shasum" >"$root/packuments/$app.json"
  done
  rm -rf "$tmp/npm-build"
}

start_npm_registry() {
  mkdir -p "$tmp/npm-registry"
  : >"$tmp/npmrc"
  cat >"$tmp/npm-registry.js" <<'EOF'
// A minimal npm registry: GET /<name> answers packuments/<name>.json, GET /tarballs/<file> the tarball.
const http = require("http"), fs = require("fs"), path = require("path");
const root = process.argv[2];
const server = http.createServer((request, response) => {
  const url = decodeURIComponent(request.url.split("?")[0]);
  const tarball = url.startsWith("/tarballs/");
  const file = tarball ? path.join(root, "tarballs", path.basename(url))
                       : path.join(root, "packuments", path.basename(url) + ".json");
  fs.stat(file, (error, stat) => {
    if (error || !stat.isFile()) { response.writeHead(404); response.end(); return; }
    response.writeHead(200, { "content-type": tarball ? "application/octet-stream" : "application/json",
                              "content-length": stat.size });
    fs.createReadStream(file).pipe(response);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => console.log("listening " + server.address().port));
EOF
  node "$tmp/npm-registry.js" "$tmp/npm-registry" >"$tmp/npm-registry.stdout" 2>"$tmp/npm-registry.log" &
  npm_pid=$!
  local deadline=$((SECONDS + 10)) port=""
  while [ -z "$port" ]; do
    if [ $SECONDS -gt $deadline ] || ! kill -0 "$npm_pid" 2>/dev/null; then
      say "the npm registry did not start: $(cat "$tmp/npm-registry.log")"
      return 1
    fi
    port=$(sed -n 's/^listening //p' "$tmp/npm-registry.stdout")
    [ -n "$port" ] || sleep 0.1
  done
  npm_url="http://127.0.0.1:$port"
}

# ---------------------------------------------------------------------------------------------------------
# Results.

# Seconds per fsync on the temp dir's file system: 100 files of 4 KiB, each written and fsynced, in one perl
# process. Locara fsyncs every file and directory it unpacks (ADR 0021); the floor and npm do not. Nothing
# is printed without perl.
fsync_probe() {
  command -v perl >/dev/null 2>&1 || return 0
  rm -rf "$tmp/probe"
  mkdir -p "$tmp/probe"
  sync
  perl -MIO::Handle -MTime::HiRes=time -e '
    my ($dir, $n) = ($ARGV[0], 100);
    my $start = time;
    for my $i (1 .. $n) {
      open(my $fh, ">", "$dir/probe-$i") or die "$dir/probe-$i: $!";
      print $fh "x" x 4096;
      $fh->flush;
      $fh->sync or die "fsync: $!";
      close $fh;
    }
    printf "%.6f\n", (time - $start) / $n;' "$tmp/probe"
  rm -rf "$tmp/probe"
}

# Appends "workload|tool|round|seconds" to $tmp/results.
record() { echo "$1|$2|$3|$4" >>"$tmp/results"; }

# Where the last `locara install` (workload $1, round $2) spent its time, from the registry's request log
# (lines after line $3; each line is written when a response's headers go out) and the command's start and
# end ($tmp/last.times). Appends "workload|round|start-up|resolve|download|unpack|requests" (seconds, and the
# number of HTTP requests the install made) to $tmp/phases:
#   start-up  process start to the first index request (state database, root refresh, timestamp.json,
#             checkpoint, revocation list)
#   resolve   to the first inclusion-proof request (each app's index and release log entry, one at a time)
#   download  to the last blob response (proofs, keys, provenance and artifact of every app, 4 at a time)
#   unpack    to the end of the command (the rest of the last artifact's body, the checks of the last
#             app, unpacking with fsyncs, the state database's commit, launchers)
phases() {
  local start end day
  read -r start end <"$tmp/last.times"
  day=$(date -u -d "@${start%.*}" +%F)
  tail -n +"$(($3 + 1))" "$tmp/registry.log" | awk -v work="$1" -v round="$2" -v start="$start" -v end="$end" \
    -v day="$day" -v day_epoch="$(date -u -d "$day" +%s)" '
    function seconds(stamp,    d, t) {
      d = substr(stamp, 1, 10); t = substr(stamp, 12); sub(/Z$/, "", t); split(t, hms, ":")
      return day_epoch + (d == day ? 0 : 86400) + hms[1] * 3600 + hms[2] * 60 + hms[3]
    }
    / path=/ {
      path = $0; sub(/.* path=/, "", path); sub(/ .*/, "", path); at = seconds($1)
      if (at > end) next
      requests++
      if (path ~ /^\/index\// && first_index == "") first_index = at
      if (path ~ /^\/log\/proof\/inclusion/ && first_proof == "") first_proof = at
      if (path ~ /^\/blobs\//) last_blob = at
    }
    END {
      if (first_index == "" || first_proof == "" || last_blob == "") exit
      printf "%s|%s|%.4f|%.4f|%.4f|%.4f|%d\n", work, round, first_index - start, first_proof - first_index,
        last_blob - first_proof, end - last_blob, requests
    }' >>"$tmp/phases"
}

report() {
  echo
  echo "## Install"
  machine
  echo "$(curl --version | head -n 1 | cut -d' ' -f1-2), $(sha256sum --version | head -n 1), $(tar --version | head -n 1), zstd $(zstd -V | grep -o 'v[0-9.]*' | head -n 1)${npm:+, node $(node --version), npm $(npm --version)}"
  if [ -s "$tmp/fsyncs" ]; then
    echo "fsync probe (4 KiB file written and fsynced, once per round): $(sort -n "$tmp/fsyncs" | awk '{ v[NR] = $1 * 1000 } END { printf "median %.2f ms, min %.2f, max %.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR] }')"
  fi
  echo "$ROUNDS rounds; big: $BIG_BYTES bytes of data, artifact $big_artifact_bytes bytes${npm:+, npm tarball $big_tarball_bytes bytes}; small: $SMALL_APPS apps, artifacts $small_artifact_bytes bytes in all${npm:+, npm tarballs $small_tarball_bytes bytes in all}"
  echo
  echo "| workload | what | median | min | max | ÷ floor (median of rounds) | ÷ npm (median of rounds) |"
  echo "|---|---|---|---|---|---|---|"
  awk -F'|' '
    function median(list, n,    i, j, t) {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (list[j] < list[i]) { t = list[i]; list[i] = list[j]; list[j] = t }
      return (n % 2) ? list[(n + 1) / 2] : (list[n / 2] + list[n / 2 + 1]) / 2
    }
    function ms(s) { return sprintf("%.0f ms", s * 1000) }
    {
      t[$1, $2, $3] = $4; rounds[$3] = 1; tools[$2] = 1
      if (!($1 in seen_w)) { seen_w[$1] = 1; works[++nw] = $1 }
    }
    END {
      split("locara floor floor-keep-alive npm", order, " ")
      for (w = 1; w <= nw; w++) {
        work = works[w]
        for (o = 1; o <= 4; o++) {
          tool = order[o]; n = 0; nf = 0; nn = 0; min = ""; max = ""
          for (r in rounds) {
            if (!((work, tool, r) in t)) continue
            v = t[work, tool, r]; list[++n] = v
            if (min == "" || v < min) min = v
            if (max == "" || v > max) max = v
            if ((work, "floor", r) in t && t[work, "floor", r] > 0) vf[++nf] = v / t[work, "floor", r]
            if ((work, "npm", r) in t && t[work, "npm", r] > 0) vn[++nn] = v / t[work, "npm", r]
          }
          if (n == 0) continue
          name = (tool == "locara") ? "`locara install`" : (tool == "floor") ? "floor: curl + sha256sum + zstd -d \\| tar -x" : (tool == "npm") ? "`npm install`, local registry" : "(diagnostic) the floor with one keep-alive curl connection"
          printf "| %s | %s | %s | %s | %s | %s | %s |\n", work, name, ms(median(list, n)), ms(min), ms(max),
            (nf ? sprintf("%.2f", median(vf, nf)) : "—"), (nn ? sprintf("%.2f", median(vn, nn)) : "—")
        }
      }
    }' "$tmp/results"
  echo
  echo "Wall times; every run in fresh directories (LOCARA_HOME, floor directory, npm project and cache), after a sync."
  echo
  echo "Per round (ms; the fsync probe in ms per fsync, measured at the start of the round):"
  echo
  awk -F'|' '
    { t[$3, $1 " " $2] = $4; if (!(($1 " " $2) in seen)) { seen[$1 " " $2] = 1; cols[++nc] = $1 " " $2 }; if ($3 > rounds) rounds = $3 }
    END {
      header = "| round"; rule = "|---"
      for (c = 1; c <= nc; c++) { name = cols[c]; sub(/ probe$/, "", name); sub(/ \([^)]*\)/, "", name); header = header " | " name; rule = rule "|---" }
      print header " |"; print rule "|"
      for (r = 1; r <= rounds; r++) {
        line = "| " r
        for (c = 1; c <= nc; c++) line = line sprintf(((c == 1 && cols[c] ~ /probe$/) ? " | %.2f" : " | %.0f"), t[r, cols[c]] * 1000)
        print line " |"
      }
    }' "$tmp/results"
  if [ -s "$tmp/rss" ]; then
    echo
    echo "Peak resident memory of \`locara install\` (GNU time's maximum RSS; medians over rounds). Artifacts"
    echo "stream to disk, so it should not grow with the artifact: the last column divides it by the small apps'"
    echo "peak in the same run (a few KB of artifacts)."
    echo
    echo "| workload | peak RSS | artifact bytes | ÷ small apps' peak |"
    echo "|---|---|---|---|"
    awk -F'|' -v big="$big_artifact_bytes" -v small="$small_artifact_bytes" '
      function median(list, n,    i, j, t) {
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (list[j] < list[i]) { t = list[i]; list[i] = list[j]; list[j] = t }
        return (n % 2) ? list[(n + 1) / 2] : (list[n / 2] + list[n / 2 + 1]) / 2
      }
      { if (!($1 in n)) order[++count] = $1; v[$1, ++n[$1]] = $3 }
      END {
        for (c = 1; c <= count; c++) {
          work = order[c]
          for (k = 1; k <= n[work]; k++) list[k] = v[work, k]
          peak[work] = median(list, n[work])
          if (work ~ /^small/) baseline = peak[work]
        }
        for (c = 1; c <= count; c++) {
          work = order[c]; bytes = (work ~ /^big/) ? big : small
          printf "| %s | %.1f MiB | %d | %s |\n", work, peak[work] / 1024, bytes, baseline ? sprintf("%.2f", peak[work] / baseline) : "—"
        }
      }' "$tmp/rss"
  fi
  if [ -s "$tmp/phases" ]; then
    echo
    echo "Where \`locara install\` spends its time (medians over rounds, from the registry's request log):"
    echo
    echo "| workload | start-up | resolve (index + entry per app) | download + checks | unpack + record | HTTP requests |"
    echo "|---|---|---|---|---|---|"
    awk -F'|' '
      function median(list, n,    i, j, t) {
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (list[j] < list[i]) { t = list[i]; list[i] = list[j]; list[j] = t }
        return (n % 2) ? list[(n + 1) / 2] : (list[n / 2] + list[n / 2 + 1]) / 2
      }
      { if (!($1 in n)) order[++count] = $1; k = ++n[$1]; for (i = 3; i <= 6; i++) v[$1, i, k] = $i; requests[$1] = $7 }
      END {
        for (c = 1; c <= count; c++) {
          work = order[c]; line = "| " work
          for (i = 3; i <= 6; i++) {
            for (k = 1; k <= n[work]; k++) list[k] = v[work, i, k]
            line = line sprintf(" | %.0f ms", median(list, n[work]) * 1000)
          }
          print line " | " requests[work] " |"
        }
      }' "$tmp/phases"
  fi
}

# ---------------------------------------------------------------------------------------------------------

main() {
  local tool
  for tool in curl:curl zstd:zstd openssl:openssl git:git sha256sum:coreutils tar:tar; do
    ensure "${tool%%:*}" "${tool#*:}" || { say "${tool%%:*} is missing (apt-get install ${tool#*:})"; exit 2; }
  done
  npm=""
  npm_skipped=""
  if [ "${SKIP_NPM:-}" = 1 ]; then
    npm_skipped="SKIP_NPM=1"
  elif ! { ensure node nodejs && ensure npm npm; }; then
    npm_skipped="node or npm is missing and could not be installed (apt-get install nodejs npm)"
  else
    npm=yes
  fi

  if [ "${SKIP_BUILD:-}" = 1 ]; then
    say "SKIP_BUILD=1: using the binaries already in ${CARGO_TARGET_DIR:-target}/release"
  else
    cargo build --release --locked -p locara-registry -p locara-cli
  fi
  bin_dir=${CARGO_TARGET_DIR:-target}/release
  bin_dir=$(cd "$bin_dir" && pwd)
  tmp=$(mktemp -d)

  local apps=() small=() i
  [ "${SKIP_BIG:-}" = 1 ] || apps+=(bench-big)
  if [ "${SKIP_SMALL:-}" != 1 ]; then
    for i in $(seq 1 "$SMALL_APPS"); do small+=("$(small_name "$i")"); done
    apps+=("${small[@]}")
  fi
  [ "${#apps[@]}" -gt 0 ] || { say "SKIP_BIG=1 and SKIP_SMALL=1: nothing to measure"; exit 2; }

  say "writing ${#apps[@]} example apps and starting the registry (it publishes them through the builder)"
  write_apps "$tmp/apps"
  [ "${SKIP_BIG:-}" != 1 ] || rm -rf "$tmp/apps/bench-big"
  [ "${SKIP_SMALL:-}" != 1 ] || rm -rf "$tmp/apps"/bench-small-*
  local build_start=$SECONDS
  start_registry "$bin_dir/locara-registry" "$tmp/data" "$tmp/apps"
  say "registry at $registry_url, root.json $root_digest"
  wait_for_builds "${apps[@]}"
  local build_seconds=$((SECONDS - build_start))

  local blobs=$tmp/data/blobs/blobs/sha256
  big_artifact_bytes=0
  small_artifact_bytes=0
  local app digest
  while read -r app digest; do
    if [ "$app" = bench-big ]; then
      big_artifact_bytes=$(stat -c %s "$blobs/${digest#sha256:}")
    else
      small_artifact_bytes=$((small_artifact_bytes + $(stat -c %s "$blobs/${digest#sha256:}")))
    fi
  done <"$tmp/artifacts"

  if [ -n "$npm" ]; then
    if start_npm_registry; then
      say "npm registry at $npm_url; writing ${#apps[@]} npm packages"
      write_npm_packages "${apps[@]}"
      big_tarball_bytes=$(stat -c %s "$tmp/npm-registry/tarballs/bench-big-1.0.0.tgz" 2>/dev/null || echo 0)
      small_tarball_bytes=$(cat "$tmp/npm-registry/tarballs"/bench-small-*.tgz 2>/dev/null | wc -c)
    else
      npm=""
      npm_skipped="the local npm registry (node) did not start"
    fi
  fi
  [ -n "$npm" ] || say "npm comparison skipped: $npm_skipped"

  : >"$tmp/results"
  : >"$tmp/phases"
  : >"$tmp/fsyncs"
  : >"$tmp/rss"
  local round seconds from
  for round in $(seq 1 "$ROUNDS"); do
    seconds=$(fsync_probe)
    [ -z "$seconds" ] || echo "$seconds" >>"$tmp/fsyncs"
    [ -z "$seconds" ] || record "fsync probe" probe "$round" "$seconds"
    if [ "${SKIP_BIG:-}" != 1 ]; then
      fresh_home
      from=$(wc -l <"$tmp/registry.log")
      seconds=$(timed locara_install demo/bench-big)
      record "big (1 app, $BIG_BYTES bytes of data)" locara "$round" "$seconds"
      record_rss "big (1 app, $BIG_BYTES bytes of data)" "$round"
      phases "big (1 app, $BIG_BYTES bytes of data)" "$round" "$from"
      seconds=$(floor_install close bench-big)
      record "big (1 app, $BIG_BYTES bytes of data)" floor "$round" "$seconds"
      if [ -n "$npm" ]; then
        npm_project bench-big
        seconds=$(timed npm_install)
        record "big (1 app, $BIG_BYTES bytes of data)" npm "$round" "$seconds"
      fi
      say "round $round of $ROUNDS, big: $(grep "^big.*|$round|" "$tmp/results" | cut -d'|' -f2,4 | tr '\n' ' ')"
    fi
    if [ "${SKIP_SMALL:-}" != 1 ]; then
      fresh_home
      from=$(wc -l <"$tmp/registry.log")
      seconds=$(timed locara_install "${small[@]/#/demo/}")
      record "small ($SMALL_APPS apps, one command)" locara "$round" "$seconds"
      record_rss "small ($SMALL_APPS apps, one command)" "$round"
      phases "small ($SMALL_APPS apps, one command)" "$round" "$from"
      seconds=$(floor_install close "${small[@]}")
      record "small ($SMALL_APPS apps, one command)" floor "$round" "$seconds"
      if [ "${SKIP_KEEPALIVE_FLOOR:-}" != 1 ]; then
        seconds=$(floor_install keep-alive "${small[@]}")
        record "small ($SMALL_APPS apps, one command)" floor-keep-alive "$round" "$seconds"
      fi
      if [ -n "$npm" ]; then
        npm_project "${small[@]}"
        seconds=$(timed npm_install)
        record "small ($SMALL_APPS apps, one command)" npm "$round" "$seconds"
      fi
      say "round $round of $ROUNDS, small: $(grep "^small.*|$round|" "$tmp/results" | cut -d'|' -f2,4 | tr '\n' ' ')"
    fi
  done

  report
  echo
  echo "Set-up: publishing ${#apps[@]} apps through the builder took ${build_seconds} s with $BUILD_WORKERS build workers."
  [ -n "$npm" ] || echo "npm comparison skipped: $npm_skipped."
}

main
