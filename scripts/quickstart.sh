#!/usr/bin/env bash
# Set up the virtualenv (if needed), then run a receiver and an agent on the bundled example logs.
set -euo pipefail
cd "$(dirname "$0")/.."
python3.11 -c 'pass' 2>/dev/null && PY=python3.11 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
exec .venv/bin/python scripts/quickstart.py "$@"
