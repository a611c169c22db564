"""`checkpass serve`: the portal and the JSON API under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from server.cli.plumbing import now, state
from server.keyring import service as keyring
from server.policy import service as policy_service

__all__ = ["app"]

app = typer.Typer()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (use PostgreSQL for more than one).")] = 1,
) -> None:
    """Run the portal and API (embedded SQLite by default; CHECKPASS_DATABASE_URL for PostgreSQL)."""
    import uvicorn

    with state(create=True) as (settings, session):
        keyring.ensure_keys(session=session, settings=settings, now=now())
        policy_service.ensure_default(session=session, now=now())
    typer.echo(f"checkpass: serving on http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(
        "server.main:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
        # uvicorn would otherwise take X-Forwarded-For from any local caller as the client's address; the app
        # believes it only from CHECKPASS_TRUSTED_PROXIES (server/accounts/deps.py).
        proxy_headers=False,
    )
