"""`checkpoint enroll`: join this laptop to a checkpoint with the one-time code the bureau gave."""

from __future__ import annotations

from typing import Annotated

import typer

from checkpoint_client import device as devices
from checkpoint_client.cli.plumbing import EXIT_BAD_INPUT, EXIT_UNREACHABLE, JsonFlag, now, print_json
from checkpoint_client.config import get_settings
from checkpoint_client.server_api import SyncError

__all__ = ["app"]

app = typer.Typer()


@app.command()
def enroll(
    server: Annotated[
        str,
        typer.Option(
            "--server",
            help="The bureau's server, e.g. https://checkpass.example.cn (plain http:// only to this machine).",
        ),
    ],
    code: Annotated[
        str,
        typer.Option(
            "--code",
            help="The one-time enrolment code: eight groups of four, the last four the root's fingerprint.",
        ),
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="A name for this laptop (default: its host name).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Enrol this laptop: check the bureau's root key against the code and pin it, store the device credential,
    fetch the trust bundle."""
    settings = get_settings()
    try:
        done = devices.enrol(settings, server=server, code=code, name=name, now=now())
    except SyncError as err:
        typer.echo(f"checkpoint: error: {err.message}", err=True)
        raise typer.Exit(EXIT_UNREACHABLE if err.code == "SERVER_UNREACHABLE" else EXIT_BAD_INPUT) from None
    device = done.device
    if as_json:
        print_json(
            devices.public_json(device)
            | {
                "replaced": done.replaced,
                "bundle_version": done.bundle_version,
                "bundle_problem": done.bundle_problem,
            }
        )
    else:
        where = device.checkpoint
        typer.echo(
            f"enrolled as device {device.device_id} at checkpoint {where.get('name')} ({where.get('region')}); "
            f"root key pinned; credential in {settings.device_path}"
        )
        if done.replaced:
            typer.echo(f"this replaces the earlier enrolment (device {done.replaced})")
        if done.bundle_version is not None:
            typer.echo(f"trust bundle version {done.bundle_version} accepted")
    if done.bundle_problem:
        typer.echo(f"checkpoint: warning: {done.bundle_problem}", err=True)
