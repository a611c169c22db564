"""`checkpass demo`: seed demo data and the demo laptop's kit (the code in server/demo/, the `demo` extra)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from server.bundles import service as bundles
from server.cli.plumbing import fail, now, state
from server.demo import laptop as demo_laptop
from server.demo import officers as demo_officers
from server.demo import seed as demo_data
from server.keyring import service as keyring
from server.passes.card import card_for

__all__ = ["app"]

app = typer.Typer()

# The demo passes the recorded camera video shows, in this order; the bus's manifest pages follow its pass.
DEMO_VIDEO_PASSES = ("kunshan", "wuhan", "forged", "bus")


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for demo passes, scenarios and the bundle.")
    ] = Path("demo-out"),
    video: Annotated[
        bool, typer.Option("--video/--no-video", help="Also record the camera video of the demo passes.")
    ] = True,
) -> None:
    """Seed demo data: Hubei (420000) hard-hit, demo passes, a forged pass, scenarios, a trust bundle, and the
    checkpoint laptop's kit (a one-time enrolment code and a recorded camera video)."""
    # Checked before seeding: a run that cannot finish should change nothing.
    if video and (missing := demo_laptop.video_unavailable()):
        fail(f"{missing}; or run checkpass demo --no-video")
    moment = now()
    with state(create=True) as (settings, session):
        summary = demo_data.seed(session=session, settings=settings, out=out, now=moment, card=card_for)
        row = bundles.current(
            session=session,
            root=keyring.load_root(settings),
            validity=timedelta(days=settings.bundle_validity_days),
            now=moment,
        )
        code, checkpoint = demo_laptop.enrolment_code(
            session=session, settings=settings, admin="demo-admin", now=moment
        )
        demo_officers.seed_officer(session=session, checkpoint=checkpoint, now=moment)
    (out / "bundle.cose").write_bytes(row.signed)
    code_file = out / "enrolment-code.txt"
    code_file.unlink(missing_ok=True)
    code_file.touch(mode=0o600)  # a credential until it is spent: only its owner reads it
    code_file.write_text(code + "\n", encoding="ascii")
    typer.echo(
        f"demo data in {out}: passes {', '.join(summary['passes'])} and a forged one, scenarios in "
        f"{out / 'scenarios'}, trust bundle version {row.version} in {out / 'bundle.cose'}"
    )
    typer.echo(f"one-time enrolment code for {checkpoint.name}'s laptop in {code_file}")
    number, name, pin = demo_officers.DEMO_OFFICER
    typer.echo(
        f"officer at {checkpoint.name} (signs in on the laptop once it has synced): {number} {name}, PIN {pin}"
    )
    if video:
        texts = [text for name in DEMO_VIDEO_PASSES for text in demo_laptop.sheets(out / name)]
        path = demo_laptop.write_video(out / "camera.avi", texts)
        typer.echo(
            f"recorded camera video of the demo passes and the bus's manifest pages (for a laptop without a "
            f"webcam): {path}"
        )
    typer.echo(f"demo accounts, password {demo_data.DEMO_PASSWORD}:")
    for username, role, _uscc, name in demo_data.DEMO_USERS:
        typer.echo(f"  {username:<24} {role:<10} {name}")
