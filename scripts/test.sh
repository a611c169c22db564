#!/usr/bin/env bash
# The whole test suite, from a fresh clone: system packages, virtual environment, lint, types, security lint, pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k rules).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-deps.sh
source scripts/venv.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# Ruff's S rules already hold every bandit check at every severity in lint; bandit itself gates on high ones.
.venv/bin/bandit --quiet --recursive passcore server checkpoint_client --severity-level high
.venv/bin/python -m pytest "$@"
