"""`checkpass init`: this installation's keys, database and default policy."""

from __future__ import annotations

import typer

from server.cli.plumbing import now, state
from server.keyring import service as keyring
from server.policy import service as policy_service

__all__ = ["app"]

app = typer.Typer()


@app.command()
def init() -> None:
    """Create keys, the database and a default policy (safe to run again)."""
    moment = now()
    with state(create=True) as (settings, session):
        created = keyring.ensure_keys(session=session, settings=settings, now=moment)
        if policy_service.ensure_default(session=session, now=moment):
            created.append("default policy")
    where = (settings.database_url and "PostgreSQL") or str(settings.db_dir)
    typer.echo(
        f"checkpass: initialised in {settings.home.resolve()} (database: {where}); "
        f"created: {', '.join(created) or 'nothing, all present'}"
    )
