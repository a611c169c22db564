"""Pass benchmarks: QR size, sign / verify / decide latency, and issuance with all its output files.

Run from the repository root with the project's virtualenv active:

    python bench/bench_pass.py                 # readable tables, about 15 s on a 2-core machine
    python bench/bench_pass.py --json          # the same figures as one JSON document
    python bench/bench_pass.py --runs 5000     # more latency samples
    python bench/bench_pass.py --check         # exit 1 if a target is missed

Three groups, each with its target (docs/performance.md records the figures):

1. QR size of typical passes at ECC level M. Target: a driver and two escorts fit QR version 12.
2. Sign (wire.encode), verify (trust.verify_pass), decide (rules.decide). Target: verify + decide <= 0.5 ms median.
3. Issuance: claims, signature and the five files (pass.txt, .png, .svg, .pdf, .json) in-process, without the
   database. Target: <= 50 ms median. Also the whole ``checkpass issue`` command with process start, for scale.

Signing keys and pass ids are random (as in real issuance), so a QR can differ by a few characters from one
signature to the next; the size figures are therefore taken over many signatures and judged on the largest.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import base45
import machine  # bench/machine.py: the script's own folder is on sys.path
import qrcode.constants
import qrcode.util
from stdnum.cn import ric

from passcore import ids, reasons, rules, trust, wire
from passcore.claims import Driver, PassClaims, Person
from passcore.keys import generate_signing_key
from passcore.policy import Policy
from server.applications.schemas import parse_application
from server.config import get_settings
from server.passes import render
from server.passes import service as passes
from server.passes.card import card_for  # the card exactly as `checkpass issue` and the portal build it

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_APPLICATION = ROOT / "examples" / "application.json"

# Targets.
TARGET_QR_VERSION = 12  # case (b), ECC M
TARGET_VERIFY_DECIDE_MS = 0.5  # median
TARGET_ISSUE_MS = 50.0  # median, five files, no database

USCC_KUNSHAN = "91320583MA1XY71231"  # the demo enterprise of examples/application.json and the tests
USCC_WUHAN = "91420100MA4K00001U"
LIBRARIES = (
    "cwt",
    "cbor2",
    "cryptography",
    "base45",
    "python-stdnum",
    "qrcode",
    "pillow",
    "reportlab",
    "pydantic",
    "sqlalchemy",
    "sqlmodel",
    "typer",
)


# --- helpers -------------------------------------------------------------------------------------------------


def resident_id(first17: str) -> str:
    """A resident ID number with a correct check digit (GB 11643)."""
    return first17 + ric.calc_check_digit(first17 + "0")


def qr_capacity(version: int) -> int:
    """Alphanumeric characters that QR ``version`` holds at ECC M (the formula qrcode's best_fit uses)."""
    bits = qrcode.util.BIT_LIMIT_TABLE[qrcode.constants.ERROR_CORRECT_M][version]
    bits -= 4 + qrcode.util.length_in_bits(qrcode.util.MODE_ALPHA_NUM, version)
    return bits // 11 * 2 + (1 if bits % 11 >= 6 else 0)


def version_for(chars: int) -> int:
    """The QR version that ``render.qr_code`` picks for ``chars`` Base45 characters (ECC M)."""
    return next(v for v in range(1, 41) if qr_capacity(v) >= chars)


def modules(version: int) -> int:
    return 17 + 4 * version


def summarise(samples_ns: list[int]) -> dict[str, Any]:
    ms = [x / 1e6 for x in samples_ns]
    result = {"n": len(ms), "median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms)}
    if len(ms) >= 20:
        result["p95_ms"] = statistics.quantiles(ms, n=20)[-1]
    return result


def measure(fn: Callable[[], object], runs: int, warmup: int) -> dict[str, Any]:
    for _ in range(warmup):
        fn()
    gc.collect()
    clock = time.perf_counter_ns
    samples = []
    for _ in range(runs):
        start = clock()
        fn()
        samples.append(clock() - start)
    return summarise(samples)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def environment() -> dict[str, Any]:
    return machine.describe(LIBRARIES)


def table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """Plain-text table (ASCII cells only, so the columns line up)."""
    right = right if right is not None else set(range(1, len(headers)))
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


# --- the passes measured -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    key: str
    label: str  # ASCII, for the table
    plate: str
    colour: str
    names: tuple[str, ...]  # driver first, then escorts
    id_numbers: tuple[str, ...]  # full numbers, masked before they go on the pass
    licence: str | None = None  # None: the licence number is the driver's ID number (the usual Chinese case)
    history: tuple[str, ...] = ()
    origin: str = "320583"
    destination: str = "310000"
    serial: str = "320583-001234"


CREW = ("张建国", "李晓燕", "王志强")
CREW_4 = ("欧阳建国", "司马晓燕", "诸葛志强")  # four characters: compound surname + two-character given name
JIANGSU_IDS = tuple(map(resident_id, ("32058319850312123", "32058319900705456", "32050619791120321")))
GUANGDONG_IDS = tuple(map(resident_id, ("44030519850312123", "44030619900705456", "44010619791120321")))
NEV_PLATE = "粤BD12345"  # new-energy plates have 8 characters; green, from Shenzhen to Kunshan

CASES = (
    Case("a", "(a) driver alone", "苏EA1234", "blue", CREW[:1], JIANGSU_IDS[:1]),
    Case("b", "(b) driver + 2 escorts", "苏EA1234", "yellow", CREW, JIANGSU_IDS),
    Case(
        "c",
        "(c) 8-char NEV plate + 2 escorts",
        NEV_PLATE,
        "green",
        CREW,
        GUANGDONG_IDS,
        origin="440305",
        destination="320583",
    ),
    Case(
        "d",
        "(d) worst: 4-char names, 3 history, licence",
        NEV_PLATE,
        "green",
        CREW_4,
        GUANGDONG_IDS,
        licence=resident_id("31010419860715002"),
        history=("420100", "430100", "360100"),
        origin="440305",
        destination="320583",
        serial="320583-123456",
    ),
)


def case_claims(case: Case, now: datetime, pass_id: str | None = None) -> PassClaims:
    driver_id = ids.mask_id(case.id_numbers[0])
    return PassClaims(
        pass_id=pass_id or secrets.token_hex(12),
        serial=case.serial,
        issuer=case.serial.split("-")[0],
        issued_at=now,
        valid_from=now,
        valid_until=now + timedelta(days=7),
        plate=ids.normalize_plate(case.plate),
        plate_colour=case.colour,
        driver=Driver(case.names[0], driver_id, ids.mask_id(case.licence) if case.licence else driver_id),
        escorts=tuple(
            Person(n, ids.mask_id(i)) for n, i in zip(case.names[1:], case.id_numbers[1:], strict=True)
        ),
        enterprise=USCC_KUNSHAN,
        origin=case.origin,
        destination=case.destination,
        travel_history=case.history,
    )


# --- 1. QR size ----------------------------------------------------------------------------------------------


def bench_qr_size(samples: int, now: datetime) -> dict[str, Any]:
    # The capacity formula must agree with the renderer, or the headroom figures would be wrong.
    for version in (TARGET_QR_VERSION - 1, TARGET_QR_VERSION):
        cap = qr_capacity(version)
        assert render.qr_version("A" * cap) == version_for(cap) == version
        assert render.qr_version("A" * (cap + 1)) == version_for(cap + 1) == version + 1
    rows: list[dict[str, Any]] = []
    for case in CASES:
        chars, raw, cose, versions = [], [], [], []
        for _ in range(samples):
            text = wire.encode(case_claims(case, now), generate_signing_key())
            compressed = base45.b45decode(text[len(wire.PREFIX) :])
            chars.append(len(text))
            raw.append(len(compressed))
            cose.append(len(zlib.decompress(compressed)))
            versions.append(render.qr_version(text))
            assert versions[-1] == version_for(len(text))
        worst = max(versions)
        rows.append(
            {
                "case": case.key,
                "label": case.label,
                "plate": case.plate,
                "names": list(case.names),
                "licence_differs": case.licence is not None,
                "travel_history": list(case.history),
                "samples": samples,
                "text_chars": {"min": min(chars), "median": statistics.median(chars), "max": max(chars)},
                "base45_decoded_bytes": {"min": min(raw), "median": statistics.median(raw), "max": max(raw)},
                "cose_bytes_inflated": {"min": min(cose), "max": max(cose)},
                "versions": {str(v): n for v, n in sorted(Counter(versions).items())},
                "version": worst,
                "modules": modules(worst),
                "capacity_chars": qr_capacity(worst),
                "headroom_to_v12_chars": qr_capacity(TARGET_QR_VERSION) - max(chars),
            }
        )
    b = next(r for r in rows if r["case"] == "b")
    target = {
        "name": "QR version of (b) at ECC M",
        "target": f"<= {TARGET_QR_VERSION}",
        "value": b["version"],
        "shown": f"version {b['version']}, {b['modules']} modules, up to {b['text_chars']['max']} chars",
        "met": b["version"] <= TARGET_QR_VERSION,
    }
    return {"ecc": "M", "cases": rows, "target": target}


# --- 2. sign / verify / decide -------------------------------------------------------------------------------


def bench_latency(runs: int, now: datetime) -> dict[str, Any]:
    key = generate_signing_key()
    case = next(c for c in CASES if c.key == "b")
    claims = case_claims(case, now - timedelta(hours=1), pass_id="5f3a9c0e1b7d24a86c13e9f0")
    text = wire.encode(claims, key)
    # Built as tests/factories.py make_bundle does: one active issuer key, Hubei hard-hit, two enterprises.
    bundle = trust.TrustBundle(
        version=1,
        issued_at=now - timedelta(hours=2),
        expires_at=now + timedelta(days=7),
        issuers=(trust.IssuerKey(key.public, trust.KEY_ACTIVE, now - timedelta(days=365)),),
        revoked=frozenset(),
        policy=Policy(hard_hit=("420000",)),
        enterprises={
            USCC_KUNSHAN: trust.Enterprise(USCC_KUNSHAN, "昆山精密机械有限公司"),
            USCC_WUHAN: trust.Enterprise(USCC_WUHAN, "武汉物流有限公司"),
        },
    )
    # The usual vehicle: a valid pass, plate and identity confirmed, driver and one escort, no fever.
    observed = rules.Observation(plate="苏E·A1234", identity_confirmed=True, licence_confirmed=True)
    occupants = (
        rules.Occupant("driver", "张建国", Decimal("36.5"), "320583"),
        rules.Occupant("escort", "李晓燕", Decimal("36.7"), "320583"),
    )

    def verify() -> trust.Verification:
        return trust.verify_pass(text, bundle, now=now)

    verification = verify()

    def decide(v: trust.Verification = verification) -> rules.Decision:
        return rules.decide(
            verification=v,
            observed=observed,
            occupants=occupants,
            policy=bundle.policy,
            now=now,
            vehicle_origin="320583",
            known_enterprises=bundle.enterprises.keys(),
            bundle_version=bundle.version,
        )

    decision = decide()
    assert verification.valid, verification
    assert decision.outcome == reasons.RELEASE and decision.reasons == ("PASS_VALID",), decision

    warmup = max(50, runs // 10)
    results = {
        "sign": measure(lambda: wire.encode(claims, key), runs, warmup),
        "verify": measure(verify, runs, warmup),
        "decide": measure(decide, runs, warmup),
        "verify_decide": measure(lambda: decide(verify()), runs, warmup),
    }
    median = results["verify_decide"]["median_ms"]
    target = {
        "name": "verify + decide, median",
        "target": f"<= {TARGET_VERIFY_DECIDE_MS} ms",
        "value": round(median, 3),
        "shown": f"{median:.3f} ms",
        "met": median <= TARGET_VERIFY_DECIDE_MS,
    }
    return {"runs": runs, "warmup": warmup, "qr_chars": len(text), "results": results, "target": target}


# --- 3. issuance ---------------------------------------------------------------------------------------------


def application_data(now: datetime) -> dict[str, Any]:
    data = json.loads(EXAMPLE_APPLICATION.read_text(encoding="utf-8"))
    data["valid_from"] = now.isoformat()
    data["valid_until"] = (now + timedelta(days=7)).isoformat()
    return data


STAGES = ("claims", "sign", "mkdir+pass.txt", "card", "png+svg+pdf", "pass.json")


def bench_issue(runs: int, now: datetime) -> dict[str, Any]:
    settings = get_settings()
    application = parse_application(application_data(now))
    signer = generate_signing_key()
    region = settings.issuer_region
    clock = time.perf_counter_ns

    with tempfile.TemporaryDirectory(prefix="bench-issue-") as tmp:

        def one(n: int) -> list[int]:
            out = Path(tmp) / f"pass-{n}"
            marks = [clock()]
            claims = passes.build_claims(
                application,
                pass_id=secrets.token_hex(12),
                serial=f"{region}-{n + 1:06d}",
                issuer=region,
                now=now,
            )
            marks.append(clock())
            text = wire.encode(claims, signer)
            marks.append(clock())
            out.mkdir()
            (out / "pass.txt").write_text(text + "\n", encoding="ascii")
            marks.append(clock())
            card = card_for(claims, application, settings)
            marks.append(clock())
            render.write_all(text, card, out, page="A5")
            marks.append(clock())
            readable = claims.readable()
            (out / "pass.json").write_text(
                json.dumps(readable, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
            marks.append(clock())
            return [b - a for a, b in itertools.pairwise(marks)]

        warmup = max(3, runs // 10)
        for n in range(warmup):
            one(n)
        gc.collect()
        per_stage: list[list[int]] = [[] for _ in STAGES]
        totals = []
        for n in range(warmup, warmup + runs):
            parts = one(n)
            totals.append(sum(parts))
            for stage, value in zip(per_stage, parts, strict=True):
                stage.append(value)
        # A random pass id can move a pass across a version boundary, and a bigger symbol takes longer to draw.
        chars = [
            len((Path(tmp) / f"pass-{n}" / "pass.txt").read_text(encoding="ascii").strip())
            for n in range(warmup, warmup + runs)
        ]
        last = Path(tmp) / f"pass-{warmup + runs - 1}"
        sizes = {p.name: p.stat().st_size for p in sorted(last.iterdir())}
        text = (last / "pass.txt").read_text(encoding="ascii").strip()
    qr_matrix = measure(lambda: render.qr_code(text), max(5, runs // 2), 2)

    total = summarise(totals)
    target = {
        "name": "claims + sign + five files, median (no database)",
        "target": f"<= {TARGET_ISSUE_MS:g} ms",
        "value": round(total["median_ms"], 1),
        "shown": f"{total['median_ms']:.1f} ms",
        "met": total["median_ms"] <= TARGET_ISSUE_MS,
    }
    return {
        "runs": runs,
        "warmup": warmup,
        "database": False,
        "total": total,
        "stages": {name: summarise(values) for name, values in zip(STAGES, per_stage, strict=True)},
        "qr_code_matrix_and_mask": qr_matrix,
        "file_bytes": sizes,
        "qr_chars": {"min": min(chars), "max": max(chars)},
        "qr_versions": {str(v): n for v, n in sorted(Counter(map(version_for, chars)).items())},
        "target": target,
    }


def bench_cli(runs: int, now: datetime) -> dict[str, Any]:
    checkpass = Path(sys.executable).parent / "checkpass"
    if not checkpass.exists():
        return {"skipped": f"{checkpass} not found (install the project: pip install -e '.[server]')"}
    clock = time.perf_counter_ns
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKPASS_", "CHECKPOINT_"))}
        env["CHECKPASS_HOME"] = str(home)

        def run(*args: str | Path) -> int:
            start = clock()
            done = subprocess.run(
                [*map(str, args)], env=env, cwd=tmp, capture_output=True, text=True, timeout=120
            )
            elapsed = clock() - start
            if done.returncode != 0:
                raise RuntimeError(f"{args} exited {done.returncode}: {done.stderr.strip()}")
            return elapsed

        init_ns = run(checkpass, "init")
        application = Path(tmp) / "application.json"
        application.write_text(json.dumps(application_data(now), ensure_ascii=False), encoding="utf-8")
        run(checkpass, "issue", application, "--out", Path(tmp) / "warmup")  # fills the OS caches
        issue_ns = [
            run(checkpass, "issue", application, "--out", Path(tmp) / f"out-{n}") for n in range(runs)
        ]
        files = sorted(p.name for p in (Path(tmp) / "out-0").iterdir())
        # The floor: a fresh interpreter importing the command's module, doing nothing.
        import_ns = [run(sys.executable, "-c", "import server.cli") for _ in range(runs)]
    return {
        "runs": runs,
        "database": "SQLite (default CHECKPASS_HOME/db)",
        "init_ms": init_ns / 1e6,
        "issue": summarise(issue_ns),
        "python_import_server_cli": summarise(import_ns),
        "files": files,
    }


# --- output --------------------------------------------------------------------------------------------------


def f3(value: float) -> str:
    return f"{value:.3f}"


def report(result: dict[str, Any]) -> str:
    env = result["environment"]
    libs = ", ".join(f"{k} {v}" for k, v in env["libraries"].items() if v)
    out = [
        f"checkpass pass benchmarks, {result['started']}",
        f"machine: {env['cpu']}, {env['cores']} cores, {env['memory_gib']} GiB, {env['os']}",
        f"python {env['python']}; {libs}",
        f"command: {result['command']}",
        "",
    ]

    qr = result["qr_size"]
    rows = []
    for r in qr["cases"]:
        c, b = r["text_chars"], r["base45_decoded_bytes"]
        spread = " ".join(f"v{v}x{n}" for v, n in r["versions"].items())
        rows.append(
            [
                r["label"],
                f"{c['median']:g} ({c['min']}-{c['max']})",
                f"{b['median']:g} ({b['min']}-{b['max']})",
                str(r["version"]),
                str(r["modules"]),
                str(r["headroom_to_v12_chars"]),
                spread,
            ]
        )
    out += [
        f"1. QR size at ECC {qr['ecc']} ({qr['cases'][0]['samples']} signatures per case, fresh key and pass id each)",
        table(
            [
                "case",
                "text chars med (min-max)",
                "Base45-decoded bytes",
                "version",
                "modules",
                "chars left in v12",
                "versions seen",
            ],
            rows,
            right={1, 2, 3, 4, 5},
        ),
        "   version and modules: the largest seen; v12 holds "
        f"{qr_capacity(TARGET_QR_VERSION)} characters at ECC M, v11 {qr_capacity(TARGET_QR_VERSION - 1)}.",
        "   plates: " + "; ".join(f"({r['case']}) {r['plate']} {'/'.join(r['names'])}" for r in qr["cases"]),
        target_line(qr["target"]),
        "",
    ]

    lat = result["latency"]
    names = {
        "sign": "sign (wire.encode)",
        "verify": "verify (trust.verify_pass)",
        "decide": "decide (rules.decide)",
        "verify_decide": "verify + decide",
    }
    rows = [
        [names[k], f3(v["median_ms"]), f3(v["p95_ms"]), f3(v["min_ms"])] for k, v in lat["results"].items()
    ]
    out += [
        f"2. Sign / verify / decide, case (b) pass ({lat['qr_chars']} chars), "
        f"{lat['runs']} runs after {lat['warmup']} warm-up runs",
        table(["operation", "median ms", "p95 ms", "min ms"], rows),
        target_line(lat["target"]),
        "",
    ]

    iss = result["issue"]
    rows = [
        [stage, f3(v["median_ms"]), f3(v["p95_ms"]) if "p95_ms" in v else "-"]
        for stage, v in iss["stages"].items()
    ]
    rows.append(
        [
            "total",
            f3(iss["total"]["median_ms"]),
            f3(iss["total"]["p95_ms"]) if "p95_ms" in iss["total"] else "-",
        ]
    )
    qm = iss["qr_code_matrix_and_mask"]
    out += [
        f"3. Issuance in-process, without the database: {iss['runs']} runs after {iss['warmup']} warm-up runs "
        f"(examples/application.json: QR {iss['qr_chars']['min']}-{iss['qr_chars']['max']} chars, "
        + ", ".join(f"v{v} x{n}" for v, n in iss["qr_versions"].items())
        + ")",
        table(["stage", "median ms", "p95 ms"], rows),
        f"   of which the QR matrix and mask choice (render.qr_code, once per issue): {f3(qm['median_ms'])} ms",
        "   files: " + ", ".join(f"{k} {v:,} B" for k, v in iss["file_bytes"].items()),
        target_line(iss["target"]),
    ]
    cli = result.get("cli")
    if cli and "skipped" not in cli:
        out += [
            "",
            f"   whole `checkpass issue` command, new process each time, {cli['database']}, {cli['runs']} runs "
            f"(after `checkpass init`: {cli['init_ms']:.0f} ms)",
            table(
                ["command", "median ms", "min ms", "max ms"],
                [
                    [
                        "checkpass issue APPLICATION.json --out DIR",
                        f"{cli['issue']['median_ms']:.1f}",
                        f"{cli['issue']['min_ms']:.1f}",
                        f"{cli['issue']['max_ms']:.1f}",
                    ],
                    [
                        "python -c 'import server.cli' (start-up floor)",
                        f"{cli['python_import_server_cli']['median_ms']:.1f}",
                        f"{cli['python_import_server_cli']['min_ms']:.1f}",
                        f"{cli['python_import_server_cli']['max_ms']:.1f}",
                    ],
                ],
            ),
        ]
    elif cli:
        out += ["", f"   whole command: skipped ({cli['skipped']})"]
    out += ["", f"finished in {result['elapsed_s']:.1f} s"]
    return "\n".join(out)


def target_line(target: dict[str, Any]) -> str:
    return f"   target {target['name']} {target['target']}: {verdict(target['met'])} ({target['shown']})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runs", type=int, default=2000, help="timed runs per latency measure (default 2000)"
    )
    parser.add_argument("--samples", type=int, default=50, help="signatures per QR size case (default 50)")
    parser.add_argument("--issue-runs", type=int, default=30, help="timed in-process issuances (default 30)")
    parser.add_argument(
        "--cli-runs", type=int, default=5, help="timed `checkpass issue` processes (default 5; 0 skips them)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if min(args.runs, args.samples, args.issue_runs) < 20:
        parser.error("--runs, --samples and --issue-runs must be at least 20 (for a p95)")

    started = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    result: dict[str, Any] = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["python", "bench/bench_pass.py", *(argv if argv is not None else sys.argv[1:])]),
        "environment": environment(),
    }
    result["qr_size"] = bench_qr_size(args.samples, now)
    result["latency"] = bench_latency(args.runs, now)
    result["issue"] = bench_issue(args.issue_runs, now)
    if args.cli_runs > 0:
        result["cli"] = bench_cli(args.cli_runs, now)
    result["targets"] = [result[k]["target"] for k in ("qr_size", "latency", "issue")]
    result["elapsed_s"] = time.perf_counter() - started

    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(report(result))
    return 1 if args.check and not all(t["met"] for t in result["targets"]) else 0


if __name__ == "__main__":
    sys.exit(main())
