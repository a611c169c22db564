#!/usr/bin/env bash
# Creates .venv when missing and installs the project (editable) with the server, client, demo and dev extras.
# Sourced by test.sh and demo.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "checkpass needs Python 3.11 or newer ($python is $("$python" --version 2>&1))" >&2; exit 1; }
[ -x "$root/.venv/bin/python" ] || "$python" -m venv "$root/.venv"
stamp="$root/.venv/.installed"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  "$root/.venv/bin/python" -m pip install -q --upgrade pip
  "$root/.venv/bin/python" -m pip install -q -e "$root[server,client,demo,dev]"
  touch "$stamp"
fi
