#!/usr/bin/env bash
# Remote cache check: start BuildGrid (a REAPI cache) on 127.0.0.1, build
# TARGET with remote cache read/write from an empty local store, then build it
# again from another empty local store and assert, from Pants' counters
# (--stats-log) and its log of local process runs, that every cacheable
# process was a remote cache hit and that the outputs are byte-identical.
# BuildGrid is stopped on exit.
#
#   build-support/remote-cache-check.sh [TARGET]      (default //images:sshd)
#
# With LKR_HIDE_HOST_TOOLS=1 the second build runs inside a bubblewrap that
# covers the host's compilers, binutils, make, qemu-img and mksquashfs with an
# empty, non-executable file: every remote hit then shows that the action
# digests do not depend on the host's tool packages (build tools come from
# the locked toolchain roots, docs/toolchain.md).
#
# BuildGrid 0.4.4 needs Python 3.11; it is installed once into its own venv.
#
# What had to be right for the second build to run nothing:
# - Pants starts a process locally while its cache lookup is still running
#   (speculation), unless the process sets a delay; the plugin's processes do
#   (core_tool.py), so a hit is not also a (cancelled) local run.
# - BuildGrid answers at most `thread-pool-size` concurrent RPCs (default 5 x
#   CPUs, 10 here) and refuses the rest with "Concurrent RPC limit exceeded",
#   which Pants counts as a read error and builds locally; the pool is raised
#   and Pants' RPC concurrency kept below it.
# - Hits fetch their outputs eagerly (Pants' default), read over ByteStream;
#   BuildGrid rejects batch reads over 4 MiB - 1 KiB while Pants batches up to
#   4 MiB, so Pants' batch limit is lowered below the server's; the lookup
#   timeout is raised from 1.5 s for a busy 2-core machine.
#
# Processes that never use a remote cache, by design, and so still run: Pants'
# host binary lookups (`BinaryPathRequest`: "Searching for `X` on PATH=..." and
# "Test binary /path.") and the host tools' version probes ("bwrap version",
# util_rules/host_tools.py), which are cached per Pants run only because they
# describe this host. Every other local run fails the check.
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
# Above the RPCs Pants may have in flight (--remote-{store,cache}-rpc-concurrency).
thread-pool-size: 128
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

# The host's build tools, hidden from the second build when asked.
HIDDEN_TOOLS="gcc cc cpp make ld as flex bison bc ccache qemu-img mksquashfs
  aarch64-linux-gnu-gcc aarch64-linux-gnu-ld x86_64-linux-gnu-gcc x86_64-linux-gnu-ld"
hiding=()
hide_host_tools() {
  local tool path real seen=" "
  hiding=(bwrap --bind / / --dev-bind /dev /dev --proc /proc)
  for tool in $HIDDEN_TOOLS; do
    path="$(command -v "$tool" || true)"
    [ -n "$path" ] || continue
    real="$(readlink -f "$path")"
    case "$seen" in *" $real "*) continue ;; esac
    seen="$seen$real "
    hiding+=(--ro-bind /dev/null "$real")
  done
  hiding+=(--)
  echo "second build hides:${seen% }"
}

build() {  # build NAME [ARGS...]: a build from an empty local store, with the remote cache
  local name="$1"; shift
  local wrap=()
  if [ "$name" = second ] && [ "${#hiding[@]}" -gt 0 ]; then wrap=("${hiding[@]}"); fi
  NO_SCIE_WARNING=1 "${wrap[@]}" ./pants --no-pantsd --no-dynamic-ui --stats-log \
    --remote-cache-read --remote-cache-write \
    --remote-store-address="grpc://127.0.0.1:${port}" \
    --remote-cache-rpc-timeout-millis=120000 \
    --remote-store-batch-api-size-limit=4000000 \
    --remote-store-rpc-concurrency=32 --remote-cache-rpc-concurrency=32 \
    --local-store-dir="$work/store-$name" \
    --pants-distdir="$dist/$name" \
    "$@" package "$TARGET" > "$work/$name.log" 2>&1 || { tail -50 "$work/$name.log" >&2; exit 1; }
}
counter() {  # counter LOG NAME
  local value
  value="$(sed -n "s/^ *$2: \([0-9]*\)$/\1/p" "$1" | tail -1)"
  echo "${value:-0}"
}

start=$(date +%s)
build first
log="$work/first.log"
echo "first build (fills the remote cache): $(( $(date +%s) - start )) s;" \
  "local executions $(counter "$log" local_execution_requests)," \
  "remote cache writes $(counter "$log" remote_cache_write_successes) of $(counter "$log" remote_cache_write_attempts)"
if [ "$(counter "$log" remote_cache_write_errors)" -ne 0 ]; then
  grep -E "WARN|ERROR" "$log" | grep -v DEPRECATED | head -5 >&2 || true
  echo "FAIL: the first build could not write to the remote cache" >&2; exit 1
fi

if [ -n "${LKR_HIDE_HOST_TOOLS:-}" ]; then hide_host_tools; fi
# Every process that starts locally keeps its sandbox and is logged with its
# description ("Preserving local process execution dir ... for DESC").
start=$(date +%s)
build second --keep-sandboxes=always --local-execution-root-dir="$work/sandboxes"
log="$work/second.log"
sed -n 's/.*Preserving local process execution dir [^ ]* for //p' "$log" | sort > "$work/local-runs.txt"
grep -vE '^(Searching for `[^`]*` on PATH=|Test binary /|[A-Za-z0-9._+-]+ version$)' "$work/local-runs.txt" > "$work/unexpected.txt" || true
runs="$(wc -l < "$work/local-runs.txt")"
others="$(wc -l < "$work/unexpected.txt")"
declare -A c
for name in remote_cache_requests remote_cache_requests_cached remote_cache_requests_uncached \
    remote_cache_read_errors remote_cache_request_timeouts remote_cache_speculation_local_completed_first \
    remote_store_missing_digest backtrack_attempts local_cache_requests local_execution_requests; do
  c[$name]="$(counter "$log" "$name")"
done
# Host-tool probes are looked up in the local cache only (Pants caches them per
# process run, never remotely): the cacheable processes are the rest.
probes=$(( runs - others ))
cacheable=$(( c[local_cache_requests] - probes ))
echo "second build (empty local store): $(( $(date +%s) - start )) s;" \
  "cacheable processes ${cacheable}, remote cache hits ${c[remote_cache_requests_cached]}" \
  "of ${c[remote_cache_requests]} (misses ${c[remote_cache_requests_uncached]}, read errors ${c[remote_cache_read_errors]}," \
  "timeouts ${c[remote_cache_request_timeouts]}, missing digests ${c[remote_store_missing_digest]}," \
  "backtracks ${c[backtrack_attempts]}); local executions ${c[local_execution_requests]}" \
  "(${probes} host binary lookups, not remote-cacheable by design; ${others} others)"
status=0
fail() { echo "FAIL: $*" >&2; status=1; }
[ "${c[remote_cache_requests]}" -gt 0 ] || fail "no remote cache lookups"
[ "${c[remote_cache_requests]}" -eq "$cacheable" ] ||
  fail "${cacheable} cacheable processes but ${c[remote_cache_requests]} remote cache lookups"
[ "${c[remote_cache_requests_cached]}" -eq "${c[remote_cache_requests]}" ] ||
  fail "${c[remote_cache_requests_cached]} of ${c[remote_cache_requests]} remote cache lookups hit"
for name in remote_cache_read_errors remote_cache_request_timeouts remote_cache_speculation_local_completed_first \
    remote_store_missing_digest backtrack_attempts; do
  [ "${c[$name]}" -eq 0 ] || fail "$name: ${c[$name]}"
done
[ "${c[local_execution_requests]}" -eq "$runs" ] ||
  fail "${c[local_execution_requests]} local executions, but ${runs} logged"
if [ -s "$work/unexpected.txt" ]; then
  fail "processes ran locally instead of coming from the remote cache:"; sed 's/^/  /' "$work/unexpected.txt" >&2
fi
if [ "$status" -ne 0 ]; then grep -E "WARN|ERROR" "$log" | grep -v DEPRECATED | head -5 >&2 || true; fi
if diff -r "$dist/first" "$dist/second" >/dev/null; then
  echo "outputs byte-identical:"; (cd "$dist/second" && find . -type f | sort | xargs sha256sum)
else
  fail "outputs differ"; diff -r "$dist/first" "$dist/second" >&2 || true
fi
[ "$status" -eq 0 ] && echo "PASS: every cacheable process of the second build came from the remote cache"
exit "$status"
