"""`checkpass issue` and `checkpass revoke`: a pass signed straight from an application file, and withdrawn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from server.applications.schemas import parse_application
from server.cli.plumbing import JsonFlag, fail, now, print_json, read_json, state
from server.keyring import service as keyring
from server.passes import render
from server.passes import service as passes
from server.passes.card import card_for
from server.policy import service as policy_service

__all__ = ["app"]

app = typer.Typer()


@app.command()
def issue(
    application_file: Annotated[Path, typer.Argument(metavar="APPLICATION.json")],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for pass.txt/png/svg/pdf/json (and manifest.txt for a bus).")
    ],
    page: Annotated[str, typer.Option(help="PDF page size: A5 or A4.")] = "A5",
    as_json: JsonFlag = False,
) -> None:
    """Sign a pass straight from an application file.

    A bus (kind personnel) also gets manifest.txt, its signed manifest pages one a line, and pass.pdf prints them
    after the card, one page each."""
    if page not in ("A5", "A4"):
        fail("--page must be A5 or A4")
    application = parse_application(read_json(application_file, "application"))
    moment = now()
    with state() as (settings, session):
        signer = keyring.active_issuer(session=session, settings=settings)
        issued = passes.issue(
            session=session,
            application=application,
            signer=signer,
            policy=policy_service.current(session),
            issuer_region=settings.issuer_region,
            now=moment,
        )
        out.mkdir(parents=True, exist_ok=True)
        (out / "pass.txt").write_text(issued.qr_text + "\n", encoding="ascii")
        extra = {"txt": out / "pass.txt", "json": out / "pass.json"}
        if issued.manifest:
            extra["manifest"] = out / "manifest.txt"
            extra["manifest"].write_text("".join(text + "\n" for text in issued.manifest), encoding="ascii")
        paths = render.write_all(
            issued.qr_text,
            card_for(
                issued.claims,
                application,
                settings,
                hotline=policy_service.current(session).service_hotline,
                pages=issued.manifest,
            ),
            out,
            page=page,
        )
        readable = issued.claims.readable()
        (out / "pass.json").write_text(
            json.dumps(readable, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    summary = {
        "pass_id": issued.claims.pass_id,
        "serial": issued.claims.serial,
        "qr_version": render.qr_version(issued.qr_text),
        "qr_chars": len(issued.qr_text),
        "kind": issued.claims.kind,
        "manifest_pages": len(issued.manifest),
        "manifest_qr_versions": [render.qr_version(text) for text in issued.manifest],
        "files": {k: str(v) for k, v in (extra | paths).items()},
    }
    if as_json:
        print_json(summary)
    else:
        typer.echo(
            f"issued pass {summary['serial']} ({summary['pass_id']}), QR version {summary['qr_version']}, "
            f"files in {out}"
        )


@app.command()
def revoke(
    pass_id: Annotated[str, typer.Argument(metavar="PASS_ID")],
    reason: Annotated[str, typer.Option(help="Why (kept for the audit).")] = "",
) -> None:
    """Revoke a pass; checkpoints refuse it once they have the next trust bundle."""
    with state() as (_settings, session):
        revocation, new = passes.revoke(
            session=session, pass_id=pass_id, reason=reason, by="checkpass cli", now=now()
        )
    status = "revoked" if new else "was already revoked at " + revocation.revoked_at.isoformat()
    typer.echo(f"pass {revocation.pass_id} {status}; export a new trust bundle to tell the checkpoints")
