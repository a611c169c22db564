"""`checkpass officer …`: a checkpoint's officers (number, name, PIN) for signing in on its laptops.

PINs are read from a hidden prompt or, with --pin-stdin, from the first line of stdin; never from the command
line, where they would stay in the shell's history and the process list.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlmodel import Session

from server.checkpoints.models import Checkpoint
from server.cli.plumbing import JsonFlag, fail, now, print_json, state
from server.officers import service as officers
from server.officers.models import Officer

__all__ = ["app"]

app = typer.Typer(help="A checkpoint's officers: add, reset a PIN, deactivate, list.", no_args_is_help=True)

CheckpointArg = Annotated[
    int, typer.Argument(metavar="CHECKPOINT_ID", help="The checkpoint's id (see the portal).")
]
NumberArg = Annotated[str, typer.Argument(metavar="NUMBER", help="The officer's number at that checkpoint.")]
PinStdin = Annotated[bool, typer.Option("--pin-stdin", help="Read the PIN from the first line of stdin.")]


def _pin(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("PIN (4-8 digits)", hide_input=True, confirmation_prompt=True))


def _checkpoint(session: Session, checkpoint_id: int) -> Checkpoint:
    checkpoint = session.get(Checkpoint, checkpoint_id) if 1 <= checkpoint_id < 2**31 else None
    if checkpoint is None:
        fail(f"no checkpoint {checkpoint_id}")
    return checkpoint


def _row(officer: Officer) -> dict[str, object]:
    return {
        "checkpoint_id": officer.checkpoint_id,
        "number": officer.number,
        "name": officer.name,
        "active": officer.active,
        "pin_set_at": officer.pin_set_at.isoformat(),
        "deactivated_at": officer.deactivated_at.isoformat() if officer.deactivated_at else None,
    }


@app.command("add")
def officer_add(
    checkpoint_id: CheckpointArg,
    number: NumberArg,
    name: Annotated[str, typer.Option("--name", help="The officer's name as printed on shift reports.")],
    pin_stdin: PinStdin = False,
) -> None:
    """Add an officer to a checkpoint; laptops get it at their next sync."""
    pin = _pin(pin_stdin)
    with state() as (_settings, session):
        checkpoint = _checkpoint(session, checkpoint_id)
        officer = officers.add_officer(
            session=session, checkpoint=checkpoint, number=number, name=name, pin=pin, now=now()
        )
        typer.echo(f"officer {officer.number} ({officer.name}) added at {checkpoint.name}")


@app.command("pin")
def officer_pin(checkpoint_id: CheckpointArg, number: NumberArg, pin_stdin: PinStdin = False) -> None:
    """Set a new PIN for an officer."""
    pin = _pin(pin_stdin)
    with state() as (_settings, session):
        officer = officers.find_officer(session, _checkpoint(session, checkpoint_id).id or 0, number)
        officers.reset_pin(session=session, officer=officer, pin=pin, now=now())
        typer.echo(f"PIN of officer {officer.number} reset; laptops get it at their next sync")


@app.command("deactivate")
def officer_deactivate(checkpoint_id: CheckpointArg, number: NumberArg) -> None:
    """Deactivate an officer: laptops refuse their sign-in from their next sync on (the record stays)."""
    with state() as (_settings, session):
        officer = officers.find_officer(session, _checkpoint(session, checkpoint_id).id or 0, number)
        officers.deactivate(session=session, officer=officer, now=now())
        typer.echo(f"officer {officer.number} deactivated")


@app.command("list")
def officer_list(checkpoint_id: CheckpointArg, as_json: JsonFlag = False) -> None:
    """The checkpoint's officers (never their PINs or PIN hashes)."""
    with state() as (_settings, session):
        rows = [_row(o) for o in officers.officers_of(session, _checkpoint(session, checkpoint_id).id or 0)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("no officers: the laptops of this checkpoint do not ask for a sign-in")
    for row in rows:
        status = "active" if row["active"] else f"deactivated {row['deactivated_at']}"
        typer.echo(f"{row['number']:<16} {row['name']:<20} {status}")
