"""`checkpass keys …`: issuer keys — a new one signs, old passes stay valid until their key is retired; with
`--hsm` it is generated in the PKCS#11 token and never leaves it — and the data key that seals ID numbers at
rest."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from passcore import wire
from passcore.keys import ALG_IDS, PublicKey
from server.cli.plumbing import JsonFlag, fail, now, print_json, state
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
        "private_store": record.private_store,
        "token": record.token_label,
    }


@app.command("rotate")
def keys_rotate(
    hsm: Annotated[
        bool | None,
        typer.Option(
            "--hsm/--file",
            help="Generate the key in the PKCS#11 token (CHECKPASS_PKCS11_MODULE, _TOKEN, _PIN), where it never "
            "leaves, or as a key file under keys/. Default: where the active key is.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Make a new issuer key active; passes signed by the old one stay valid until it is retired."""
    with state() as (settings, session):
        record = keyring.rotate(session=session, settings=settings, now=now(), in_token=hsm)
    where = (
        f"in PKCS#11 token {record.token_label!r}, not extractable"
        if record.token_label
        else "in a key file under keys/"
    )
    typer.echo(f"new active issuer key {record.kid} ({record.alg}, {where})")


@app.command("check")
def keys_check(as_json: JsonFlag = False) -> None:
    """Sign a test message with the active issuer key (its file or its token) and verify the signature with the
    public key the trust bundle carries: the ceremony's last step, and a check after changing the token's PIN."""
    with state() as (settings, session):
        record = keyring.active_issuer_record(session)
        if record is None:
            fail("no active issuer key: run `checkpass init`")
        signer = keyring.active_issuer(session=session, settings=settings)  # the token's failures: one line
    message = wire.sign1(b"checkpass keys check", {1: ALG_IDS[signer.alg], 4: signer.kid}, signer)
    # Verified with the database's public key, the one the bundle carries (PassSignatureInvalid: one line, exit 2).
    wire.verify_signature(wire.parse_cose(message), PublicKey.from_pem(record.public_key_pem.encode()))
    where = f"PKCS#11 token {record.token_label!r}" if record.token_label else "key file"
    if as_json:
        print_json(
            {
                "kid": record.kid,
                "alg": record.alg,
                "private_store": record.private_store,
                "token": record.token_label,
                "verified": True,
            }
        )
        return
    typer.echo(f"issuer key {signer.kid.hex()} ({signer.alg}, {where}) signs; the signature verifies")


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
            f"{row['kid']}  {row['role']:<6}  {row['alg']:<5}  {row['status']:<8}  {row['private_store']:<6}"
            f"  from {row['valid_from']}"
        )
