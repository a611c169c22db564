"""`checkpass user …`: portal accounts of bureau staff (enterprises register themselves on the portal); for any
account, revoking its API tokens and deactivating it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from server.accounts import service as accounts
from server.cli.plumbing import fail, now, state

__all__ = ["app"]

app = typer.Typer(
    help="Portal accounts: bureau staff made here; any account's tokens and activation.", no_args_is_help=True
)

PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(metavar="USERNAME")],
    role: Annotated[str, typer.Option(help="admin, reviewer or auditor")] = "admin",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a bureau account (the first administrator, reviewers, auditors)."""
    if role not in ("admin", "reviewer", "auditor"):
        fail("--role must be admin, reviewer or auditor (enterprises register on the portal)")
    password = _password(password_stdin)
    with state(create=True) as (_settings, session):
        user = accounts.create_user(
            session=session, username=username, password=password, role=role, display_name=name, now=now()
        )
    typer.echo(f"created {user.role} {user.username}")


@app.command("reset-password")
def user_reset_password(
    username: Annotated[str, typer.Argument(metavar="USERNAME")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a new password (and sign the user out everywhere)."""
    password = _password(password_stdin)
    with state() as (_settings, session):
        user = accounts.reset_password(session=session, username=username, password=password, now=now())
    typer.echo(f"password of {user.username} reset; their sessions and API tokens are ended")


@app.command("revoke-tokens")
def user_revoke_tokens(username: Annotated[str, typer.Argument(metavar="USERNAME")]) -> None:
    """Revoke every API token of an account (any role; checkpoint devices are revoked under their checkpoint)."""
    with state() as (_settings, session):
        user = accounts.find_user(session, username)
        count = accounts.revoke_tokens(session=session, user=user, now=now())
    typer.echo(f"{count} API token(s) of {user.username} revoked")


@app.command("deactivate")
def user_deactivate(username: Annotated[str, typer.Argument(metavar="USERNAME")]) -> None:
    """Deactivate an account: sign-in refused, every session and API token ended."""
    with state() as (_settings, session):
        user = accounts.set_active(session=session, username=username, active=False, now=now())
    typer.echo(f"{user.username} deactivated; their sessions and API tokens are ended")


@app.command("activate")
def user_activate(username: Annotated[str, typer.Argument(metavar="USERNAME")]) -> None:
    """Reactivate an account (its old sessions and tokens stay ended)."""
    with state() as (_settings, session):
        user = accounts.set_active(session=session, username=username, active=True, now=now())
    typer.echo(f"{user.username} activated")
