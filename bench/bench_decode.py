"""QR decoding benchmark: read rate and ms/frame per backend and per condition group.

Run from the repository root with the project's virtualenv active:

    python bench/bench_decode.py                      # 960 frames (80 per group) + 80 empty ones; tables
    python bench/bench_decode.py --per-condition 20   # a quicker look
    python bench/bench_decode.py --json               # the same figures as one JSON document
    python bench/bench_decode.py --check              # exit 1 if a target is missed

Frames come from tests/framegen.py: 1280×720 webcam-like pictures of real signed passes (passcore.wire.encode,
rendered by the server's own QR renderer) under twelve condition groups, each sweeping its severity from mild to
hard. They are generated once per (count, seed) and cached as JPEG files (about 100 ms a frame to make).

Backends: plain zxing-cpp (one read_barcodes call on the grey frame), ours (checkpoint_client.decoding.Decoder:
the same call, then retries on changed copies when it fails) and pyzbar. Target: ours reads at least as many
frames as plain zxing-cpp in every group. Also reported: ms/frame on frames without any code (what every empty
frame of a camera costs) and false reads (a text other than the pass in the frame: must be 0).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import machine  # bench/machine.py: the script's own folder is on sys.path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/framegen.py and tests/factories.py are not installed

from checkpoint_client.decoding import Decoder  # noqa: E402
from passcore.keys import generate_signing_key  # noqa: E402
from tests import framegen  # noqa: E402

BACKENDS = {
    "zxing-cpp plain": lambda: Decoder("zxing", retries=False),
    "ours (zxing-cpp + retries)": lambda: Decoder("zxing"),
    "pyzbar": lambda: Decoder("pyzbar"),
}
EMPTY = "none (no pass)"


def frame_set(per_condition: int, seed: int, cache: Path) -> list[tuple[str, str, Any]]:
    """(group, expected text, image) for every frame; generated once into ``cache``."""
    index = cache / "index.json"
    if not index.exists():
        texts = framegen.sample_passes(4, generate_signing_key())
        made = framegen.make_frames(texts, cache, per_condition=per_condition, seed=seed)
        rows = [{"group": f.condition, "text": f.text, "file": f.path.name} for f in made if f.path]
        for i in range(max(per_condition, 10)):
            name = f"empty-{i:04d}.jpg"
            cv2.imwrite(
                str(cache / name), framegen.blank_frame(seed * 1000 + i), [cv2.IMWRITE_JPEG_QUALITY, 85]
            )
            rows.append({"group": EMPTY, "text": "", "file": name})
        index.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    rows = json.loads(index.read_text(encoding="utf-8"))
    return [(r["group"], r["text"], cv2.imread(str(cache / r["file"]), cv2.IMREAD_COLOR)) for r in rows]


def measure(frames: list[tuple[str, str, Any]]) -> dict[str, Any]:
    """Every backend on every frame, taking turns frame by frame, so that whatever else the machine is doing
    weighs on all of them alike."""
    decoders = {name: make() for name, make in BACKENDS.items()}
    for decoder in decoders.values():
        for _group, _text, image in frames[:10]:  # warm-up
            decoder.decode(image)
    tallies: dict[str, dict[str, dict[str, Any]]] = {
        name: defaultdict(lambda: {"frames": 0, "read": 0, "false": 0, "ms": []}) for name in decoders
    }
    for group, text, image in frames:
        for name, decoder in decoders.items():
            start = time.perf_counter_ns()
            texts = decoder.decode(image).texts
            elapsed = (time.perf_counter_ns() - start) / 1e6
            g = tallies[name][group]
            g["frames"] += 1
            g["read"] += text in texts
            g["false"] += sum(t != text for t in texts)
            g["ms"].append(elapsed)
    results: dict[str, Any] = {}
    for name, per_group in tallies.items():
        results[name] = {group: _summary(g) for group, g in per_group.items()}
        coded = [g for group, g in per_group.items() if group != EMPTY]
        results[name]["all (with a pass)"] = _summary(
            {
                key: sum((g[key] for g in coded), [] if key == "ms" else 0)
                for key in ("frames", "read", "false", "ms")
            }
        )
    return results


def _summary(g: dict[str, Any]) -> dict[str, Any]:
    ms = sorted(g["ms"])
    return {
        "frames": g["frames"],
        "read": g["read"],
        "rate": round(100 * g["read"] / g["frames"], 1),
        "false_reads": g["false"],
        "ms_mean": round(statistics.fmean(ms), 2),
        "ms_median": round(statistics.median(ms), 2),
        "ms_p95": round(statistics.quantiles(ms, n=20)[-1], 2) if len(ms) >= 20 else None,
    }


def targets(results: dict[str, Any]) -> list[tuple[str, bool]]:
    plain, ours = results["zxing-cpp plain"], results["ours (zxing-cpp + retries)"]
    checks = [(f"ours ≥ plain on {g}", ours[g]["read"] >= plain[g]["read"]) for g in plain if g != EMPTY]
    checks.append(("no false reads", all(r[g]["false_reads"] == 0 for r in results.values() for g in r)))
    return checks


def print_tables(results: dict[str, Any], info: dict[str, Any]) -> None:
    names = list(results)
    groups = list(results[names[0]])
    print(f"{info['frames']} frames, 1280×720, seed {info['seed']}; read % · mean ms/frame · p95 ms\n")
    print("| group | frames | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for g in groups:
        cells = []
        for n in names:
            r = results[n][g]
            rate = "–" if g == EMPTY else f"{r['rate']:.1f} %"
            cells.append(
                f"{rate} · {r['ms_mean']:.1f} ms · {r['ms_p95'] if r['ms_p95'] is not None else '–'}"
            )
        print(f"| {g} | {results[names[0]][g]['frames']} | " + " | ".join(cells) + " |")
    print()
    for label, ok in targets(results):
        print(f"{'PASS' if ok else 'MISS'}  {label}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-condition", type=int, default=80, help="frames per condition group (default 80)"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--frames", type=Path, help="cache folder for the generated frames")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.per_condition < 2:
        parser.error("--per-condition must be at least 2")
    cache = (
        args.frames
        or Path(tempfile.gettempdir()) / f"checkpass-decode-frames-{args.per_condition}-{args.seed}"
    )
    cache.mkdir(parents=True, exist_ok=True)
    frames = frame_set(args.per_condition, args.seed, cache)
    results = measure(frames)
    info = {
        "frames": sum(1 for f in frames if f[0] != EMPTY),
        "empty_frames": sum(1 for f in frames if f[0] == EMPTY),
        "seed": args.seed,
    }
    described = machine.describe(
        ["zxing-cpp", "pyzbar", "opencv-python-headless", "numpy", "pillow", "qrcode"]
    )
    if args.json:
        print(
            json.dumps({"machine": described, "set": info, "results": results}, ensure_ascii=False, indent=2)
        )
    else:
        print_tables(results, info)
    return 1 if args.check and not all(ok for _, ok in targets(results)) else 0


if __name__ == "__main__":
    sys.exit(main())
