"""`checkpass keys …`: issuer keys — a new one signs, old passes stay valid until their key is retired — and the
data key that seals ID numbers at rest."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from server.cli.plumbing import JsonFlag, now, print_json, state
from server.keyring import service as keyring

__all__ = ["app"]

app = typer.Typer(help="Issuer keys and the data key.", no_args_is_help=True)


def _key_json(record: Any) -> dict[str, Any]:
    return {
        "kid": record.kid,
        "role": record.role,
        "alg": record.alg,
        "public_key": record.public_key_pem,
        "status": record.status,
        "valid_from": record.valid_from.isoformat(),
        "valid_until": record.valid_until.isoformat() if record.valid_until else None,
    }


@app.command("rotate")
def keys_rotate() -> None:
    """Make a new issuer key active; passes signed by the old one stay valid until it is retired."""
    with state() as (settings, session):
        record = keyring.rotate(session=session, settings=settings, now=now())
    typer.echo(f"new active issuer key {record.kid}")


@app.command("retire")
def keys_retire(kid: Annotated[str, typer.Argument(metavar="KID")]) -> None:
    """Retire an old issuer key: passes it signed no longer verify."""
    with state() as (_settings, session):
        record = keyring.retire(session=session, kid=kid.strip().lower(), now=now())
    typer.echo(f"issuer key {record.kid} retired")


@app.command("rotate-data-key")
def keys_rotate_data_key(
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="Rows re-sealed per transaction.")] = 500,
) -> None:
    """A new data key seals ID numbers at rest; everything sealed before is re-sealed, then the old key deleted."""
    with state() as (_settings, session):
        rotation = keyring.rotate_data_key(session=session, batch=batch)
    retired = ", ".join(rotation.retired) or "none"
    typer.echo(f"new data key {rotation.kid}; {rotation.resealed} rows re-sealed; retired: {retired}")


@app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """The keys with their status and validity."""
    with state() as (_settings, session):
        rows = [_key_json(r) for r in keyring.list_keys(session)]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['kid']}  {row['role']:<6}  {row['alg']:<5}  {row['status']:<8}  from {row['valid_from']}"
        )
