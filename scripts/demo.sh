#!/usr/bin/env bash
# The whole system on the embedded defaults (SQLite under db/, keys under keys/): the bureau initialises and
# seeds demo data (passes, accounts, crossings for the audit); a checkpoint verifies the printed passes and
# decides every demo case offline from the command line; then the bureau's portal starts on
# http://127.0.0.1:8000/ and the officer's screen on http://127.0.0.1:8700/, enrolled at the demo checkpoint and
# fed by the laptop's webcam or, without one, by a recorded video of the demo passes.
#   --no-serve   stop after the command-line part (for scripted runs)
#   PORT=8080 SCREEN_PORT=8701 SOURCE=1 scripts/demo.sh   other ports, another camera (or a video file/folder)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
export PATH="$PWD/.venv/bin:$PATH"
out=demo-out
laptop="$out/laptop"   # the officer's laptop keeps its own state (pinned root, credential, decisions)

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
echo; echo "== checkpoint: a chartered bus (站到站, 12 workers on a 2-page manifest): a manifest page, then the bus"
echo "   decided from its pass, its pages and the roll call (one passenger from Hubei, one not aboard)"
checkpoint verify --text "$(head -n 1 "$out/bus/manifest.txt")"
printf '%-18s ' bus
checkpoint decide "$out/bus/scenario.json"
echo; echo "Printable passes: $out/*/pass.pdf · bundle: $out/bundle.cose · state: keys/ db/"
[ "${1:-}" = "--no-serve" ] && exit 0

port="${PORT:-8000}"
screen_port="${SCREEN_PORT:-8700}"
echo; echo "== portal: starting on http://127.0.0.1:$port/"
checkpass serve --host 127.0.0.1 --port "$port" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
python - "$port" <<'EOF'
import sys, time, urllib.request
for _ in range(150):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=1)
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit("the portal did not start: see the messages above")
EOF

echo; echo "== officer's laptop: enrol at the demo checkpoint with the one-time code"
# A laptop that pinned another root (keys/ was deleted and made again) cannot join this bureau: start it afresh.
if [ -f "$laptop/keys/root.pub.pem" ] && ! cmp -s keys/root.pub.pem "$laptop/keys/root.pub.pem"; then
  rm -rf "$laptop"
fi
# Enrolled by an earlier run and still known to this bureau: keep it. Enrolling again would make a new device
# that continues this laptop's chain of decisions, which the audit rightly reports as a gap.
if [ -f "$laptop/keys/device.json" ] && CHECKPOINT_HOME="$laptop" checkpoint sync >/dev/null 2>&1; then
  echo "already enrolled at the demo checkpoint ($laptop/keys/device.json); decisions synced"
else
  rm -rf "$laptop"  # not known here (db/ was made again): a new laptop, its chain starting afresh
  CHECKPOINT_HOME="$laptop" checkpoint enroll --server "http://127.0.0.1:$port" \
    --code "$(cat "$out/enrolment-code.txt")" --name "演示笔记本 demo laptop"
fi

source_spec="${SOURCE:-}"
if [ -z "$source_spec" ]; then
  if [ -e /dev/video0 ]; then source_spec=0; else source_spec="$out/camera.avi"; fi
fi
open_browser=()
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" != Darwin ]; then open_browser=(--no-browser); fi
cat <<EOF

== ready
   portal           http://127.0.0.1:$port/          (accounts above, password checkpass-demo-2020)
   officer's screen http://127.0.0.1:$screen_port/          camera: $source_spec
   Sign in first: officer number K-0427, Enter, PIN 2020, Enter (F8 ends the shift; PDF/CSV of the shift above).
   Hold a pass to the camera (the demo video shows the Kunshan, Wuhan and forged passes, the bus's pass and its
   two manifest pages, then a shop's QR code; the bus's pages wait on the screen until the bus is in front),
   type each temperature (365 = 36.5) with Enter, Enter to confirm the checks, Enter to decide; N: a vehicle
   without a pass; Esc: next vehicle. Decisions upload to the portal every 30 s (demo-auditor sees them).
   Ctrl-C stops both.
EOF
CHECKPOINT_HOME="$laptop" checkpoint run --source "$source_spec" --loop --port "$screen_port" "${open_browser[@]}"
