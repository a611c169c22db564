#!/usr/bin/env bash
# The system on the embedded defaults (SQLite under db/, keys under keys/): the bureau initialises, seeds demo
# data (passes, accounts) and issues passes; a checkpoint imports the signed trust bundle and, offline, verifies
# the printed passes and decides every demo case; then the portal serves on http://127.0.0.1:8000/.
# --no-serve stops before the portal (for scripted runs). PORT=8080 scripts/demo.sh picks another port.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
export PATH="$PWD/.venv/bin:$PATH"
out=demo-out

echo "== bureau: initialise (keys/, db/) and seed demo data"
checkpass init
checkpass demo --out "$out"

echo; echo "== checkpoint: import the trust bundle (root key pinned from keys/root.pub.pem)"
checkpoint bundle import "$out/bundle.cose"

echo; echo "== checkpoint: verify the demo pass from its QR text and from its PNG"
checkpoint verify --text "$(cat "$out/kunshan/pass.txt")" --json
checkpoint verify "$out/kunshan/pass.png"
checkpoint verify "$out/forged/pass.png" || echo "   (exit $?: the forged pass is refused, as it should be)"

echo; echo "== checkpoint: decide each demo vehicle"
for scenario in "$out"/scenarios/*.json; do
  printf '%-18s ' "$(basename "$scenario" .json)"
  checkpoint decide "$scenario"
done
echo; echo "Printable passes: $out/*/pass.pdf · bundle: $out/bundle.cose · state: keys/ db/"
[ "${1:-}" = "--no-serve" ] && exit 0

port="${PORT:-8000}"
echo; echo "== portal: http://127.0.0.1:$port/ — sign in with a demo account above (Ctrl-C stops)"
exec checkpass serve --host 127.0.0.1 --port "$port"
