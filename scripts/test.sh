#!/usr/bin/env bash
# Set up the virtualenv (if needed) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3.11 -c 'pass' 2>/dev/null && PY=python3.11 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
# CI (CI=true) also runs the soak tests marked `slow` (about a minute more).
if [ "${CI:-}" = "true" ]; then
  set -- -m "" "$@"
fi
exec .venv/bin/python -m pytest -q "$@"
