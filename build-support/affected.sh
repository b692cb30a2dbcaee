#!/usr/bin/env bash
# Affected-only CI entry point: see build-support/affected.py.
exec python3 "$(dirname "$0")/affected.py" "$@"
