#!/usr/bin/env bash
# Remote cache check: start BuildGrid (a REAPI cache) on 127.0.0.1, build
# TARGET with remote cache read/write from an empty local store, then build it
# again from another empty local store and assert, from Pants' counters
# (--stats-log), that every cacheable process was a remote cache hit and that
# the outputs are byte-identical. BuildGrid is stopped on exit.
#
#   build-support/remote-cache-check.sh [TARGET]      (default //images:sshd)
#
# BuildGrid 0.4.4 needs Python 3.11; it is installed once into its own venv.
# The remote cache read timeout is raised from Pants' 1.5 s: outputs are
# fetched eagerly, and a 36 MB package on a busy 2-core machine takes longer.
# BuildGrid rejects batch reads over 4 MiB - 1 KiB; Pants batches up to 4 MiB,
# so the batch limit is lowered below the server's.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${1:-//images:sshd}"
BGD_VERSION=0.4.4
VENV="${HOME}/.cache/linuxkit-rules/buildgrid-${BGD_VERSION}"

find_python311() {
  local candidate
  for candidate in "$(command -v python3.11 || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.11*/bin/python3.11; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  echo "remote-cache-check: BuildGrid ${BGD_VERSION} needs Python 3.11 (pyenv install 3.11)" >&2
  return 1
}

if [ ! -e "${VENV}/.installed" ]; then
  py="$(find_python311)"
  rm -rf "${VENV}"
  "$py" -m venv "${VENV}"
  PIP_CONFIG_FILE=/dev/null "${VENV}/bin/pip" install -q "buildgrid==${BGD_VERSION}"
  touch "${VENV}/.installed"
fi

work="$(mktemp -d /tmp/lkr-remote-cache.XXXXXX)"
# --pants-distdir must be inside the build root.
dist="dist/remote-cache-check.$$"
bgd_pid=""
cleanup() {
  if [ -n "$bgd_pid" ]; then kill "$bgd_pid" 2>/dev/null || true; wait "$bgd_pid" 2>/dev/null || true; fi
  if [ -n "${LKR_KEEP_WORK:-}" ]; then echo "kept: $work $dist" >&2; else rm -rf "$work" "$dist"; fi
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat > "$work/bgd.yml" <<YAML
server:
  - !channel
    address: "127.0.0.1:${port}"
    insecure-mode: true
storages:
  - !disk-storage &cas
    path: ${work}/cas
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: false
instances:
  - name: ""
    services:
      - !action-cache
        cache: *ac
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
YAML
mkdir -p "$work/cas"
"${VENV}/bin/bgd" server start "$work/bgd.yml" > "$work/bgd.log" 2>&1 &
bgd_pid=$!
for _ in $(seq 60); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', ${port}), 1)" 2>/dev/null; then break; fi
  if ! kill -0 "$bgd_pid" 2>/dev/null; then cat "$work/bgd.log" >&2; echo "remote-cache-check: BuildGrid did not start" >&2; exit 1; fi
  sleep 1
done
echo "BuildGrid ${BGD_VERSION} on 127.0.0.1:${port} (pid ${bgd_pid})"

build() {  # build NAME: a build from an empty local store, with the remote cache
  local name="$1"
  NO_SCIE_WARNING=1 ./pants --no-pantsd --no-dynamic-ui --stats-log \
    --remote-cache-read --remote-cache-write \
    --remote-store-address="grpc://127.0.0.1:${port}" \
    --remote-cache-read-timeout-millis=120000 \
    --remote-store-batch-api-size-limit=4000000 \
    --local-store-dir="$work/store-$name" \
    --pants-distdir="$dist/$name" \
    package "$TARGET" > "$work/$name.log" 2>&1 || { tail -50 "$work/$name.log" >&2; exit 1; }
}
counter() {  # counter LOG NAME
  sed -n "s/^ *$2: \([0-9]*\)$/\1/p" "$1" | tail -1
}

start=$(date +%s)
build first
echo "first build (fills the remote cache): $(( $(date +%s) - start )) s, local executions: $(counter "$work/first.log" local_execution_requests)"
start=$(date +%s)
build second
log="$work/second.log"
cached="$(counter "$log" remote_cache_requests_cached)"
uncached="$(counter "$log" remote_cache_requests_uncached)"
requests="$(counter "$log" remote_cache_requests)"
local_runs="$(counter "$log" local_execution_requests)"
timeouts="$(counter "$log" remote_cache_request_timeouts)"
read_errors="$(counter "$log" remote_cache_read_errors)"
echo "second build (empty local store): $(( $(date +%s) - start )) s; remote cache requests ${requests:-0}, hits ${cached:-0}, misses ${uncached:-0}, timeouts ${timeouts:-0}, read errors ${read_errors:-0}; local executions ${local_runs:-0}"
status=0
if [ "${cached:-0}" -eq 0 ] || [ "${uncached:-0}" -ne 0 ] || [ "${cached:-0}" -ne "${requests:-0}" ]; then
  echo "FAIL: not every cacheable process came from the remote cache" >&2; status=1
  grep -E "WARN|ERROR" "$log" | grep -v DEPRECATED | head -5 >&2 || true
fi
# Processes that ran anyway must be ones Pants never caches (per-restart host probes).
if grep -E "Starting: (Building|Assembling|Extracting|Fetching)" "$log" >&2; then
  echo "FAIL: build processes ran locally instead of coming from the remote cache" >&2; status=1
fi
if diff -r "$dist/first" "$dist/second" >/dev/null; then
  echo "outputs byte-identical:"; (cd "$dist/second" && find . -type f | sort | xargs sha256sum)
else
  echo "FAIL: outputs differ" >&2; diff -r "$dist/first" "$dist/second" >&2 || true; status=1
fi
exit "$status"
