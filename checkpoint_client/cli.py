"""`checkpoint`: the checkpoint side's command line (DESIGN.md section 8).

Exit codes: 0 a verified pass or a decision made; 2 bad input; 3 a pass that does not verify.
Every error is one line on stderr; never a traceback for bad input.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer

from checkpoint_client import commands, station, truststore
from checkpoint_client.config import Settings, get_settings
from passcore import trust, wire
from passcore.errors import CheckpassError, InputError

__all__ = ["app", "main"]

app = typer.Typer(
    help="Checkpoint vehicle passes: the checkpoint's side (works offline).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
bundle_app = typer.Typer(help="The trust bundle this checkpoint decides with.", no_args_is_help=True)
app.add_typer(bundle_app, name="bundle")

EXIT_BAD_INPUT, EXIT_INVALID_PASS = 2, 3
MAX_SCENARIO_BYTES = 64 * 1024
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
BundleOption = Annotated[
    Path | None, typer.Option("--bundle", help="Use this bundle file instead of the held one.")
]
DecoderOption = Annotated[
    str, typer.Option("--decoder", help="QR decoder: zxing or pyzbar (pyzbar needs libzbar0).")
]


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.echo(f"checkpoint: error: {message}", err=True)
    raise typer.Exit(code)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _now() -> datetime:
    return datetime.now(UTC)


def _bundle(settings: Settings, path: Path | None, now: datetime) -> trust.TrustBundle:
    if path is not None:
        return truststore.read_bundle_file(settings, path, now=now)
    return truststore.held_bundle(settings, now=now)


def _parse_at(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--at {at!r} is not an ISO time such as 2026-02-10T08:00:00+08:00")
    if moment.tzinfo is None:
        _fail("--at needs a time zone, e.g. 2026-02-10T08:00:00+08:00")
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
    """Verify a pass offline against the trust bundle."""
    if (image is None) == (text is None):
        _fail("give either an IMAGE file or --text QR_TEXT")
    # OpenCV and the decoders load only for an image: the other commands start without them.
    from checkpoint_client import decoding

    if decoder not in decoding.BACKENDS:
        _fail(f"unknown decoder {decoder!r}: choose {' or '.join(decoding.BACKENDS)}")
    now = _now()
    when = _parse_at(at) or now
    settings = get_settings()
    trusted = _bundle(settings, bundle, now)
    if image is not None:
        codes = decoding.decode_image_file(image, decoder)
        if not codes:
            _fail(f"no QR code found in {image}: hold the pass flat, fill the frame, avoid glare")
        text = next((c for c in codes if c.startswith(wire.PREFIX)), codes[0])
    assert text is not None
    result = trust.verify_pass(text.strip(), trusted, now=when)
    report = station.verification_json(result, trusted, at=when, now=now)
    if as_json:
        _print_json(report)
    elif result.valid and result.claims:
        c = result.claims
        until = c.valid_until.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M")
        typer.echo(f"VALID  {c.serial}  {report['claims']['plate']}  {c.driver.name}  until {until}")
    else:
        typer.echo(f"INVALID  {result.code}: {result.message}")
    if not result.valid:
        raise typer.Exit(EXIT_INVALID_PASS)


def _read_scenario(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            _fail(f"scenario {path} is larger than {MAX_SCENARIO_BYTES // 1024} KiB")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        _fail(f"cannot read scenario {path}: {getattr(err, 'strerror', None) or err}")
    except json.JSONDecodeError as err:
        _fail(f"scenario {path} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}")


@app.command()
def decide(
    scenario_file: Annotated[Path, typer.Argument(metavar="SCENARIO.json")],
    bundle: BundleOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Apply the release rules to one vehicle described in a scenario file."""
    scenario = station.parse_scenario(_read_scenario(scenario_file))
    now = _now()
    trusted = _bundle(get_settings(), bundle, now)
    verification, decision = station.evaluate(scenario, trusted, now=now)
    report = station.decision_json(decision, scenario, verification, trusted, now)
    if as_json:
        _print_json(report)
    else:
        reasons = ", ".join(r["code"] for r in report["reasons"])
        typer.echo(f"{decision.outcome}  ({reasons})")


@bundle_app.command("import")
def bundle_import(
    file: Annotated[Path, typer.Argument(metavar="FILE")],
    root: Annotated[Path | None, typer.Option("--root", help="Pin this root public key (PEM) first.")] = None,
) -> None:
    """Accept a trust bundle carried in on a file (refuses forged, older or expired bundles)."""
    settings = get_settings()
    if root is None and not settings.root_path.exists():
        raise InputError(
            f"no root key pinned in {settings.root_path}: give --root root.pub.pem (from the bureau)",
            code="ROOT_NOT_PINNED",
        )
    accepted = truststore.import_bundle(settings, file, now=_now(), root_file=root)
    typer.echo(
        f"trust bundle version {accepted.version} accepted (policy version {accepted.policy.version}, "
        f"{len(accepted.revoked)} revoked passes, expires {accepted.expires_at.isoformat()})"
    )


def _load_command_modules() -> None:
    for module in pkgutil.iter_modules(commands.__path__):
        importlib.import_module(f"{commands.__name__}.{module.name}")


_load_command_modules()


def main() -> None:
    try:
        app()
    except CheckpassError as err:
        typer.echo(f"checkpoint: error: {err.message}", err=True)
        sys.exit(EXIT_BAD_INPUT)
