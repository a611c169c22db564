"""`checkpass root …`: the root key's ceremony (issue 15; docs/deploy.md, "Key ceremony").

The root certifies a short-lived bundle-signing key, and cross-signs its successor at a rollover; otherwise it
stays offline. Commands marked "offline" need no database: they run on the machine that holds the root key and
read or write only the files named. The others run on the server.

  on the server           on the offline machine                     back on the server
  root new-signer --out   root certify --root-key --key --out         root install-cert FILE
                          root generate --out-dir   (a new root)
                          root cross-sign --old-key --new-root --out  root install-rollover FILE
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from passcore import keycerts
from passcore.keys import SIGNING_ALGORITHMS, PublicKey, SigningKey
from server.bundles import signing
from server.cli.plumbing import JsonFlag, fail, now, print_json, state
from server.config import get_settings
from server.keyring import service as keyring

__all__ = ["app"]

app = typer.Typer(
    help="The root key's ceremony: bundle-signing keys and root rollover.", no_args_is_help=True
)

MAX_KEY_FILE = 64 * 1024
Days = Annotated[
    int, typer.Option("--days", min=1, max=366, help="How long the signing key is certified for.")
]
Alg = Annotated[str, typer.Option("--alg", help=f"Signing key algorithm: {', '.join(SIGNING_ALGORITHMS)}.")]


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_KEY_FILE:
            fail(f"{what} {path} is too large")
        return path.read_bytes()
    except OSError as err:
        fail(f"cannot read {what} {path}: {err.strerror or err}")


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as err:
        fail(f"cannot write {path}: {err.strerror or err}")


def _private(path: Path, what: str) -> SigningKey:
    settings = get_settings()
    passphrase = settings.key_passphrase.get_secret_value().encode() if settings.key_passphrase else None
    return SigningKey.from_pem(_read(path, what), passphrase)


def _day(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "-"


@app.command("status")
def root_status(as_json: JsonFlag = False) -> None:
    """The current root, the rollovers behind it, the certified signing keys and which one signs now."""
    moment = now()
    with state() as (settings, session):
        root = keyring.root_public(session)
        validity = timedelta(days=settings.bundle_validity_days)
        choice = signing.choose(session=session, settings=settings, now=moment, validity=validity)
        online = (settings.keys_dir / keyring.ROOT_FILE).exists()
        data: dict[str, Any] = {
            "root": root.kid.hex(),
            "root_online": online,
            "rollovers": [
                {"from": r.signer_kid, "to": r.kid, "at": r.created_at.isoformat()}
                for r in signing.rollovers(session)
            ],
            "signing_keys": [
                {
                    "kid": r.kid,
                    "alg": r.alg,
                    "certified_by": r.signer_kid,
                    "valid_from": r.valid_from.isoformat(),
                    "valid_until": _day(r.valid_until),
                }
                for r in signing.signing_keys(session)
            ],
            "signs_now": choice.certificate.kid
            if choice.certificate
            else (root.kid.hex() if online else None),
        }
    if as_json:
        print_json(data)
        return
    typer.echo(f"root {data['root']} ({'online here' if online else 'offline'})")
    for step in data["rollovers"]:
        typer.echo(f"  rolled over from {step['from']} to {step['to']} at {step['at']}")
    for key in data["signing_keys"]:
        typer.echo(
            f"  signing key {key['kid']} {key['alg']} certified by {key['certified_by']}, "
            f"valid {key['valid_from']} to {key['valid_until']}"
        )
    if data["signs_now"] is None:
        typer.echo(
            f"no key can sign a {settings.bundle_validity_days}-day bundle now: certify a signing key",
            err=True,
        )
    else:
        typer.echo(f"bundles are signed by {data['signs_now']}")


@app.command("new-signer")
def root_new_signer(
    out: Annotated[Path, typer.Option("--out", help="Where to write the new key's public key (PEM).")],
    alg: Alg = "EdDSA",
) -> None:
    """On the server: a new bundle-signing key (private part in keys/, 0600); take its public key to the root."""
    if alg not in SIGNING_ALGORITHMS:
        fail(f"unknown algorithm {alg!r}: use one of {', '.join(SIGNING_ALGORITHMS)}")
    public = signing.new_signing_key(settings=get_settings(), alg=alg)
    _write(out, public.pem.encode())
    typer.echo(f"new bundle-signing key {public.kid.hex()} ({alg}); its public key is in {out}: certify it")


@app.command("certify")
def root_certify(
    root_key: Annotated[Path, typer.Option("--root-key", help="The root's private key (PEM).")],
    key: Annotated[Path, typer.Option("--key", help="The signing key's public key, from `root new-signer`.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the certificate.")],
    days: Days = signing.DEFAULT_SIGNER_DAYS,
) -> None:
    """Offline: the root certifies a bundle-signing key from now for --days."""
    root = _private(root_key, "root key")
    public = PublicKey.from_pem(_read(key, "public key"))
    start = now().replace(microsecond=0)
    data = keycerts.certify_signer(
        root, public, issued_at=start, valid_from=start, valid_until=start + timedelta(days=days)
    )
    _write(out, data)
    typer.echo(
        f"root {root.kid.hex()} certified bundle-signing key {public.kid.hex()} from {start.isoformat()} "
        f"to {(start + timedelta(days=days)).isoformat()}; install {out} with `checkpass root install-cert`"
    )


@app.command("install-cert")
def root_install_cert(certificate: Annotated[Path, typer.Argument(metavar="FILE")]) -> None:
    """On the server: install the root's certificate of a signing key made here; bundles are signed with it."""
    data = _read(certificate, "certificate")
    with state() as (settings, session):
        row = signing.install_certificate(session=session, settings=settings, certificate=data, now=now())
    typer.echo(
        f"bundle-signing key {row.kid} installed (certified by root {row.signer_kid} until {_day(row.valid_until)})"
    )


@app.command("certify-signer")
def root_certify_signer(days: Days = signing.DEFAULT_SIGNER_DAYS, alg: Alg = "EdDSA") -> None:
    """For a root kept on this server: new-signer, certify and install-cert in one step."""
    if alg not in SIGNING_ALGORITHMS:
        fail(f"unknown algorithm {alg!r}: use one of {', '.join(SIGNING_ALGORITHMS)}")
    with state() as (settings, session):
        row = signing.certify_online(session=session, settings=settings, now=now(), days=days, alg=alg)
    typer.echo(
        f"bundle-signing key {row.kid} ({row.alg}) certified by root {row.signer_kid} until {_day(row.valid_until)}"
    )


@app.command("generate")
def root_generate(
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="An empty directory for the new root's two files.")
    ],
) -> None:
    """Offline: a new root key pair (root.key.pem 0600, encrypted with CHECKPASS_KEY_PASSPHRASE when set)."""
    settings = get_settings()
    passphrase = settings.key_passphrase.get_secret_value().encode() if settings.key_passphrase else None
    key = signing.generate_root(out_dir, passphrase=passphrase)
    typer.echo(
        f"new root {key.kid.hex()} in {out_dir}: have the current root cross-sign "
        f"{out_dir / keyring.ROOT_PUBLIC_FILE} (`checkpass root cross-sign`)"
    )


@app.command("cross-sign")
def root_cross_sign(
    old_key: Annotated[Path, typer.Option("--old-key", help="The current root's private key (PEM).")],
    new_root: Annotated[Path, typer.Option("--new-root", help="The new root's public key (PEM).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the cross-signature.")],
) -> None:
    """Offline: the current root says that the new root succeeds it."""
    old = _private(old_key, "root key")
    new = PublicKey.from_pem(_read(new_root, "new root's public key"))
    _write(out, keycerts.cross_sign_root(old, new, issued_at=now()))
    typer.echo(
        f"root {old.kid.hex()} cross-signed new root {new.kid.hex()}; install {out} with "
        "`checkpass root install-rollover`, together with a signing key certified by the new root"
    )


@app.command("install-rollover")
def root_install_rollover(
    cross_signature: Annotated[Path, typer.Argument(metavar="FILE")],
    new_root_key: Annotated[
        Path | None,
        typer.Option(
            "--new-root-key", help="The new root's private key, only if the root is kept on this server."
        ),
    ] = None,
    certificate: Annotated[
        Path | None,
        typer.Option(
            "--cert", help="A signing key's certificate by the new root (`root certify`), installed too."
        ),
    ] = None,
) -> None:
    """On the server: the cross-signed root becomes current; checkpoints follow it at their next sync."""
    if new_root_key is None and certificate is None:
        fail(
            "give --cert FILE (a signing key certified by the new root) or --new-root-key FILE; nothing was changed"
        )
    data = _read(cross_signature, "cross-signature")
    new_key = _private(new_root_key, "new root key") if new_root_key else None
    cert = _read(certificate, "certificate") if certificate else None
    with state() as (settings, session):
        record, signer = signing.install_rollover(
            session=session,
            settings=settings,
            cross_signature=data,
            now=now(),
            new_root_key=new_key,
            certificate=cert,
        )
    typer.echo(
        f"root {record.kid} is now current; bundles are signed by {signer.kid} and carry the cross-signature, "
        "so enrolled checkpoints follow at their next sync"
    )
