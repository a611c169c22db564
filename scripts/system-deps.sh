#!/usr/bin/env bash
# Debian packages the tests need beyond Python: poppler-utils renders printed passes to images (the PDF's QR
# is scanned from the rendered page), fonts-noto-cjk so Chinese renders as characters, not boxes (in the browser), and chromium
# for the browser tests (driven by Playwright; Playwright never downloads a browser here); libzbar0 for the
# alternative QR decoder (pyzbar), so both decoding backends are tested.
# softhsm2: a PKCS#11 token in software; the tests generate and use issuer keys in a fresh token (issue 15).
# fonts-wqy-zenhei: the TrueType CJK font every PDF embeds (reportlab cannot embed Noto CJK's CFF outlines);
# the server refuses to start without it (CHECKPASS_PDF_FONT names another).
# nginx: the reverse proxy in front of several `checkpass serve` nodes (tests/integration/test_nginx_two_nodes.py
# starts it on loopback; test_deploy_configs.py runs `nginx -t` on deploy/nginx/); systemd for `systemd-analyze
# verify` of the units in deploy/systemd/ (issue 15, part F).
# postgresql-client: pg_dump, pg_restore and psql for `checkpass backup` / `restore` on PostgreSQL (its major
# version must be at least the server's; Debian's is the distribution's server version) (issue 15, part C).
# Installs only what is missing; needs root (or sudo).
set -euo pipefail
packages=(poppler-utils poppler-data fonts-noto-cjk fonts-wqy-zenhei chromium libzbar0 nginx systemd softhsm2 postgresql-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "system-deps: please install ${missing[*]} with your package manager" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "system-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
