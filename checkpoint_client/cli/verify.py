"""`checkpoint verify` and `checkpoint decide`: one pass (or a bus's manifest page), or one vehicle's release
decision (a bus's with its roll call), judged offline."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from checkpoint_client import station
from checkpoint_client.cli.plumbing import (
    EXIT_INVALID_PASS,
    BundleOption,
    DecoderOption,
    JsonFlag,
    fail,
    load_bundle,
    now,
    print_json,
)
from checkpoint_client.config import get_settings
from passcore import bus_rules, manifest, trust, wire

__all__ = ["app"]

app = typer.Typer()

MAX_SCENARIO_BYTES = 64 * 1024


def _parse_at(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--at {at!r} is not an ISO time such as 2026-02-10T08:00:00+08:00")
    if moment.tzinfo is None:
        fail("--at needs a time zone, e.g. 2026-02-10T08:00:00+08:00")
    return moment


@app.command()
def verify(
    image: Annotated[
        Path | None, typer.Argument(metavar="[IMAGE]", help="A photo or scan of the QR code.")
    ] = None,
    text: Annotated[str | None, typer.Option("--text", help="The QR text itself.")] = None,
    bundle: BundleOption = None,
    at: Annotated[str | None, typer.Option("--at", help="Verify as of this ISO time (default: now).")] = None,
    decoder: DecoderOption = "zxing",
    as_json: JsonFlag = False,
) -> None:
    """Verify a pass, or a bus's manifest page (CPM1:), offline against the trust bundle."""
    if (image is None) == (text is None):
        fail("give either an IMAGE file or --text QR_TEXT")
    # OpenCV and the decoders load only for an image: the other commands start without them.
    from checkpoint_client import decoding

    if decoder not in decoding.BACKENDS:
        fail(f"unknown decoder {decoder!r}: choose {' or '.join(decoding.BACKENDS)}")
    moment = now()
    when = _parse_at(at) or moment
    settings = get_settings()
    trusted = load_bundle(settings, bundle, moment)
    if image is not None:
        codes = decoding.decode_image_file(image, decoder)
        if not codes:
            fail(f"no QR code found in {image}: hold the pass flat, fill the frame, avoid glare")
        # A pass first, then a manifest page, then whatever else was read (judged as a pass: PASS_MALFORMED).
        text = next((c for c in codes if c.startswith(wire.PREFIX)), None)
        text = text or next((c for c in codes if station.is_manifest_page(c)), codes[0])
    assert text is not None
    if station.is_manifest_page(text):
        _verify_page(text.strip(), trusted, when=when, moment=moment, as_json=as_json)
        return
    result = trust.verify_pass(text.strip(), trusted, now=when)
    report = station.verification_json(result, trusted, at=when, now=moment)
    if as_json:
        print_json(report)
    elif result.valid and result.claims:
        c = result.claims
        until = c.valid_until.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M")
        typer.echo(f"VALID  {c.serial}  {report['claims']['plate']}  {c.driver.name}  until {until}")
    else:
        typer.echo(f"INVALID  {result.code}: {result.message}")
    if not result.valid:
        raise typer.Exit(EXIT_INVALID_PASS)


def _verify_page(
    text: str, trusted: trust.TrustBundle, *, when: datetime, moment: datetime, as_json: bool
) -> None:
    """A manifest page: genuine or not, the pass it is bound to, "3/5" and its passengers (masked IDs)."""
    page = manifest.verify_page(text, trusted, now=when)
    if as_json:
        print_json(station.page_json(page, trusted, at=when, now=moment))
    elif page.valid:
        typer.echo(
            f"VALID  manifest page {page.label}  pass {page.pass_id}  {len(page.passengers)} passenger(s)"
        )
        for number, person in enumerate(page.passengers, page.first):
            typer.echo(f"  {number:>3}  {person.name}  {person.id_masked}  {person.origin}")
    else:
        typer.echo(f"INVALID  {page.code}: {page.message}")
    if not page.valid:
        raise typer.Exit(EXIT_INVALID_PASS)


def _read_scenario(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            fail(f"scenario {path} is larger than {MAX_SCENARIO_BYTES // 1024} KiB")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        fail(f"cannot read scenario {path}: {getattr(err, 'strerror', None) or err}")
    except json.JSONDecodeError as err:
        fail(f"scenario {path} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}")


@app.command()
def decide(
    scenario_file: Annotated[Path, typer.Argument(metavar="SCENARIO.json")],
    bundle: BundleOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Apply the release rules to one vehicle (or a bus with its manifest and roll call) in a scenario file."""
    scenario = station.parse_scenario(_read_scenario(scenario_file))
    moment = now()
    trusted = load_bundle(get_settings(), bundle, moment)
    verification, decision = station.evaluate(scenario, trusted, now=moment)
    report = station.decision_json(decision, scenario, verification, trusted, moment)
    if as_json:
        print_json(report)
    else:
        reasons = ", ".join(r["code"] for r in report["reasons"])
        typer.echo(f"{decision.outcome}  ({reasons})")
        if isinstance(decision, bus_rules.BusDecision):
            counts = {
                d: decision.passengers.count(d) for d in bus_rules.DISPOSITIONS if d in decision.passengers
            }
            typer.echo("passengers: " + (", ".join(f"{d} {n}" for d, n in counts.items()) or "none judged"))
