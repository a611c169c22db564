"""Manifest pages as printed: module size, table font and whether every page of the PDF decodes (issue 14).

Run from the repository root with the project's virtualenv active (needs poppler-utils):

    python bench/bench_manifest_print.py                 # 20 random buses of 45 and the worst pages, A5 and A4
    python bench/bench_manifest_print.py --buses 5       # a quicker look
    python bench/bench_manifest_print.py --json          # the figures as one JSON document
    python bench/bench_manifest_print.py --check         # exit 1 if a sheet is unread at 150/100 dpi or its
                                                         # QR's module is smaller than the pass's

Each bus (bench_manifest_qr.py's realistic passengers) is signed, its manifest pages made with
passcore.manifest.encode_pages, and the pass's PDF written by server/passes/render.py as the portal and
`checkpass issue` write it (the card, then one sheet a manifest page). Every sheet is rasterised with pdftoppm at
150, 100 and 75 dpi and read by the checkpoint's decoder (checkpoint_client.decoding.decode_image_file); the printed
module is measured on the 150 dpi image (zxing's corners), the table's font from pdftotext's word boxes. Two
made-up worst pages are added: eight passengers with four-character names, the longest county names (新疆) and
three travel codes each (a version 16 page), and eight with 32-character names (the longest a name may be).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import zxingcpp
from bench_manifest_qr import (  # the same buses as the page-size measurement
    ELSEWHERE,
    GIVEN,
    KEY,
    SURNAMES,
    bus_claims,
    passengers,
)
from PIL import Image

# bench_manifest_qr put the repository root on sys.path.
from checkpoint_client.decoding import decode_image_file
from passcore import manifest, wire
from server.passes import card as cards
from server.passes import render

DPIS = (150, 100, 75)
FAR_WEST = ("654021", "652928", "653127", "654223")  # 伊宁县, 阿瓦提县, 麦盖提县, 沙湾市: long names in words


def _worst(rng: random.Random, long_names: bool) -> list[manifest.Passenger]:
    """A full page as long as it gets: four-character names (or 32), ID numbers registered elsewhere, the
    longest county names and three travel codes each, all different (nothing for zlib to share)."""
    people = []
    for i in range(manifest.PASSENGERS_PER_PAGE):
        length = 32 if long_names else 4
        name = "".join(rng.choice(SURNAMES + GIVEN) for _ in range(length))
        origin = FAR_WEST[i % len(FAR_WEST)]
        history = (origin, *rng.sample([c for c in FAR_WEST + ELSEWHERE if c != origin], 2))
        registered = rng.choice(ELSEWHERE)
        people.append(
            manifest.Passenger(name, f"{registered}********{rng.randrange(10000):04d}", origin, history)
        )
    return people


def _card(claims: Any, pages: list[str]) -> render.PassCard:
    bus = claims.bus
    return render.PassCard(
        serial=claims.serial,
        pass_id=claims.pass_id,
        plate="豫S·12345",
        plate_colour="黄牌 yellow",
        enterprise="昆山精密机械有限公司",
        driver=f"{claims.driver.name}  {claims.driver.id_masked}",
        escorts=(),
        route="河南省 信阳市 平桥区 → 江苏省 苏州市 昆山市",
        cargo="",
        valid_from="2026-02-10 08:00",
        valid_until="2026-02-24 08:00",
        issuer="昆山市交通运输局",
        bus=render.BusCard(
            stations="信阳汽车站 → 昆山汽车南站",
            seats=bus.seats,
            manager=f"{bus.manager.name}  {bus.manager.id_masked}",
            passengers=bus.passengers,
            pages=bus.pages,
        ),
        manifest=cards.manifest_sheets(pages),
    )


def _module_mm(image: Path, text: str) -> float:
    found = zxingcpp.read_barcodes(Image.open(image).convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    pos = next(b for b in found if b.text == text).position
    width_px = math.dist((pos.top_left.x, pos.top_left.y), (pos.top_right.x, pos.top_right.y))
    return width_px / (17 + 4 * render.qr_version(text)) * 25.4 / 150


def _table_font(pdf: Path, page: int, names: set[str]) -> float:
    """The height of the passengers' names on the sheet as laid out (about the font size, points)."""
    out = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pattern = r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">(.*?)</word>'
    heights = [float(b) - float(a) for a, b, word in re.findall(pattern, out) if word in names]
    return min(heights) if heights else float("nan")


def measure_pdf(pass_text: str, people: list[manifest.Passenger], pages: list[str], claims: Any, size: str,
                folder: Path) -> dict[str, Any]:  # fmt: skip
    pdf = folder / f"{claims.serial}-{size}.pdf"
    render.write_pdf(pass_text, _card(claims, pages), pdf, page=size)
    expected = [pass_text, *pages]
    row: dict[str, Any] = {
        "page": size,
        "sheets": len(expected),
        "versions": [render.qr_version(t) for t in pages],
    }
    for dpi in DPIS:
        prefix = folder / f"{claims.serial}-{size}-{dpi}"
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(prefix)], check=True)
        images = sorted(folder.glob(f"{prefix.name}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        read = [decode_image_file(image) for image in images]
        row[f"read_{dpi}"] = sum(got == [want] for got, want in zip(read, expected, strict=True))
        if dpi == 150:
            row["pass_module_mm"] = _module_mm(images[0], pass_text)
            row["page_module_mm"] = [
                _module_mm(image, text) for image, text in zip(images[1:], pages, strict=True)
            ]
    names = {p.name for p in people}
    row["table_pt"] = [_table_font(pdf, n, names) for n in range(2, len(expected) + 1)]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--buses", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    if shutil.which("pdftoppm") is None:
        print("pdftoppm not found: install poppler-utils", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        samples: list[tuple[str, list[manifest.Passenger]]] = []
        for sample in range(args.buses):
            samples.append(("bus of 45", passengers(random.Random(8000 + sample), 45)))
        samples.append(("worst v16 page", _worst(random.Random(1), long_names=False)))
        samples.append(("32-character names", _worst(random.Random(2), long_names=True)))
        for serial, (kind, people) in enumerate(samples, 1):
            rng = random.Random(serial)
            claims = bus_claims(people, manifest.PASSENGERS_PER_PAGE, 90000 + serial, rng)
            pass_text = wire.encode(claims, KEY)
            pages = manifest.encode_pages(claims, people, KEY)
            for size in ("A5", "A4"):
                row = {"kind": kind} | measure_pdf(pass_text, people, pages, claims, size, folder)
                rows.append(row)
                if not args.json:
                    print(
                        f"{kind:20} {size} v{max(row['versions'])} pass {row['pass_module_mm']:.2f} mm, pages "
                        f"{min(row['page_module_mm']):.2f}-{max(row['page_module_mm']):.2f} mm, table "
                        f"{min(row['table_pt']):.1f}-{max(row['table_pt']):.1f} pt; read "
                        + ", ".join(f"{row[f'read_{d}']}/{row['sheets']} at {d} dpi" for d in DPIS)
                    )
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    for size in ("A5", "A4"):
        buses = [r for r in rows if r["page"] == size and r["kind"] == "bus of 45"]
        if buses:
            fonts = [pt for r in buses for pt in r["table_pt"]]
            modules = [mm for r in buses for mm in r["page_module_mm"]]
            print(f"{size}, {len(buses)} buses of 45: pages' modules {min(modules):.2f}-{max(modules):.2f} mm "
                  f"(passes' {min(r['pass_module_mm'] for r in buses):.2f}-"
                  f"{max(r['pass_module_mm'] for r in buses):.2f}), table {min(fonts):.1f}-{max(fonts):.1f} pt, "
                  f"median {sorted(fonts)[len(fonts) // 2]:.1f}", file=sys.stderr)  # fmt: skip
    failed = [r for r in rows if any(r[f"read_{d}"] != r["sheets"] for d in DPIS[:2])]
    # 32-character names are the one case whose QR is meant to give up size (render.py); the rest must not.
    smaller = [
        r
        for r in rows
        if r["kind"] != "32-character names" and min(r["page_module_mm"]) < r["pass_module_mm"] - 0.02
    ]
    print(f"{len(rows)} PDFs: {len(failed)} with a sheet unread at 150 or 100 dpi, {len(smaller)} with a page's "
          "module smaller than the pass's", file=sys.stderr)  # fmt: skip
    return 1 if args.check and (failed or smaller) else 0


if __name__ == "__main__":
    sys.exit(main())
