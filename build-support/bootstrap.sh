# Sourced by ./pants and .ci/run. Everything it makes lives under
# ~/.cache/linuxkit-rules, at paths that do not depend on the checkout:
# Pants' cache keys contain the interpreter path, so two clones must share it.
# shellcheck shell=bash

LKR_CACHE="$HOME/.cache/linuxkit-rules"
LKR_PEX_VERSION="2.1.137"
LKR_PEX_SHA256="a8778b91ca860fc57e11593813dc9700e15906db7d21167d3cde1ea8fbcddd3c"
LKR_SUPPORT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

lkr_die() { echo "pants bootstrap: $*" >&2; exit 1; }

lkr_find_python() {
  local cand root
  for cand in python3.9 python3.8 python3.7; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import venv' 2>/dev/null; then
      command -v "$cand"; return 0
    fi
  done
  root="${PYENV_ROOT:-$HOME/.pyenv}"
  if command -v pyenv >/dev/null 2>&1; then root="$(pyenv root)"; fi
  for cand in "$root"/versions/3.9.*/bin/python3.9 "$root"/versions/3.8.*/bin/python3.8 \
              "$root"/versions/3.7.*/bin/python3.7; do
    if [ -x "$cand" ]; then echo "$cand"; return 0; fi
  done
  return 1
}

# pip with this machine's global config switched off: a global constraint file
# breaks resolves, and we pin every requirement by hash anyway.
lkr_pip() { PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= "$@"; }

lkr_make_venv() {
  local py req_hash
  req_hash="$(sha256sum "$LKR_SUPPORT/requirements.txt" | cut -c1-12)"
  LKR_VENV="$LKR_CACHE/venv-$req_hash"
  [ -f "$LKR_VENV/.complete" ] && return 0
  py="$(lkr_find_python)" || lkr_die "Pants 2.17 needs CPython 3.7-3.9; none found on PATH or under pyenv. Install python3.9."
  echo "pants bootstrap: creating $LKR_VENV with $py" >&2
  rm -rf "$LKR_VENV"
  "$py" -m venv "$LKR_VENV"
  lkr_pip "$LKR_VENV/bin/python" -m pip install -q --require-hashes --no-deps \
    -r "$LKR_SUPPORT/requirements.txt" >&2 || { rm -rf "$LKR_VENV"; lkr_die "pip install failed"; }
  touch "$LKR_VENV/.complete"
}

lkr_build_pex() {
  local dir="$LKR_CACHE/pex-$LKR_PEX_VERSION" got
  if [ -f "$dir/pex" ] && [ "$(sha256sum "$dir/pex" | cut -d' ' -f1)" = "$LKR_PEX_SHA256" ]; then
    return 0
  fi
  echo "pants bootstrap: building the pex $LKR_PEX_VERSION tool from PyPI" >&2
  mkdir -p "$dir"
  local tmp; tmp="$(mktemp -d)"
  PEX_ROOT="$tmp/root" lkr_pip "$LKR_VENV/bin/pex" "pex==$LKR_PEX_VERSION" -c pex \
    --python-shebang='/usr/bin/env python3' -o "$tmp/pex" >&2 || { rm -rf "$tmp"; lkr_die "building pex failed"; }
  got="$(sha256sum "$tmp/pex" | cut -d' ' -f1)"
  if [ "$got" != "$LKR_PEX_SHA256" ]; then
    rm -rf "$tmp"; lkr_die "the pex tool built with sha256 $got, expected $LKR_PEX_SHA256"
  fi
  mv "$tmp/pex" "$dir/pex"; rm -rf "$tmp"
}

lkr_host_tools() {
  # Host tools that rules look up on PATH; Debian package names.
  local missing=() pkg bin
  while read -r bin pkg; do
    case "$bin" in ''|'#'*) continue ;; esac
    case "$bin" in
      /*) [ -e "$bin" ] || missing+=("$pkg") ;;  # a header or library path
      *) command -v "$bin" >/dev/null 2>&1 || missing+=("$pkg") ;;
    esac
  done < "$LKR_SUPPORT/host-tools.txt"
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "pants bootstrap: installing host tools: ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
      || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
             --no-install-recommends "${missing[@]}" >&2; } \
      || lkr_die "could not install ${missing[*]}"
  else
    echo "pants bootstrap: missing host tools; install the Debian packages: ${missing[*]}" >&2
  fi
}

lkr_native_client() {
  # Pants' Rust client, shipped in its wheel but not marked executable. With a
  # pantsd whose options match it runs the command there without starting
  # Python (a no-op takes a fraction of a second instead of about two); with
  # none, or with pantsd off, it execs $_PANTS_SERVER_EXE, the Python entry point.
  LKR_CLIENT="$LKR_VENV/bin/pants-native-client"
  [ -x "$LKR_CLIENT" ] && return 0
  local src tmp
  for src in "$LKR_VENV"/lib/python3.*/site-packages/pants/bin/native_client; do
    [ -f "$src" ] || continue
    tmp="$(mktemp "$LKR_VENV/bin/.native-client.XXXXXX")"
    cp "$src" "$tmp" && chmod 0755 "$tmp" && mv -f "$tmp" "$LKR_CLIENT"
    return 0
  done
  LKR_CLIENT=""
}

lkr_bootstrap() {
  mkdir -p "$LKR_CACHE"
  lkr_make_venv
  lkr_build_pex
  lkr_host_tools
  lkr_native_client
}
