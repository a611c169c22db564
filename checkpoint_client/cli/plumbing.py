"""What every `checkpoint` command shares: exit codes, common options, JSON output, a one-line failure, the
clock and the trust bundle to decide with.

Public on purpose: each command module imports these names; none reaches into another command module.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from checkpoint_client import truststore
from checkpoint_client.config import Settings
from passcore import trust

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INVALID_PASS",
    "EXIT_UNREACHABLE",
    "BundleOption",
    "DecoderOption",
    "JsonFlag",
    "fail",
    "load_bundle",
    "now",
    "print_json",
]

EXIT_BAD_INPUT, EXIT_INVALID_PASS, EXIT_UNREACHABLE = 2, 3, 4
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
BundleOption = Annotated[
    Path | None, typer.Option("--bundle", help="Use this bundle file instead of the held one.")
]
DecoderOption = Annotated[
    str, typer.Option("--decoder", help="QR decoder: zxing or pyzbar (pyzbar needs libzbar0).")
]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """One line on stderr and the exit code: bad input never ends in a traceback."""
    typer.echo(f"checkpoint: error: {message}", err=True)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def now() -> datetime:
    return datetime.now(UTC)


def load_bundle(settings: Settings, path: Path | None, moment: datetime) -> trust.TrustBundle:
    """The bundle given with --bundle, else the one this checkpoint holds."""
    if path is not None:
        return truststore.read_bundle_file(settings, path, now=moment)
    return truststore.held_bundle(settings, now=moment)
