"""`checkpoint bundle import`: a trust bundle carried in on a file (the first import pins the root key)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from checkpoint_client import truststore
from checkpoint_client.cli.plumbing import now
from checkpoint_client.config import get_settings
from passcore.errors import InputError

__all__ = ["app"]

app = typer.Typer(help="The trust bundle this checkpoint decides with.", no_args_is_help=True)


@app.command("import")
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
    accepted = truststore.import_bundle(settings, file, now=now(), root_file=root)
    typer.echo(
        f"trust bundle version {accepted.version} accepted (policy version {accepted.policy.version}, "
        f"{len(accepted.revoked)} revoked passes, expires {accepted.expires_at.isoformat()})"
    )
