#!/usr/bin/env bash
# The whole test suite, from a fresh clone: system packages, virtual environment, lint, types, pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k rules).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-deps.sh
source scripts/venv.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
