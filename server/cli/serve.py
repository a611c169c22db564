"""`checkpass serve`: the portal and the JSON API under uvicorn."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from server.cli.plumbing import now, state
from server.crossings import partitions
from server.keyring import service as keyring
from server.ops import logs
from server.policy import service as policy_service

__all__ = ["app"]

app = typer.Typer()
KEEP_ALIVE_SECONDS = 75


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
        session.commit()
        partitions.ensure(session.get_bind(), now())  # type: ignore[arg-type]  # crossing's next days (PostgreSQL)
    typer.echo(f"checkpass: serving on http://{host}:{port}/ (Ctrl-C stops)")
    metrics_dir = make_metrics_dir(workers)
    try:
        uvicorn.run(
            "server.main:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # One JSON line per request comes from the app (server/ops/requests.py); uvicorn's own access line
            # would repeat it with the raw path and query string, which hold ids.
            log_config=logs.dict_config("info"),
            access_log=False,
            # uvicorn would otherwise take X-Forwarded-For from any local caller as the client's address; the app
            # believes it only from CHECKPASS_TRUSTED_PROXIES (server/accounts/deps.py).
            proxy_headers=False,
            # Longer than nginx keeps an idle upstream connection (deploy/nginx/checkpass.conf, 60 s): with
            # uvicorn's 5 s, a node closed connections nginx or a checkpoint was about to reuse, and the request
            # sent on one failed (a bench's devices posting every 5 s saw "connection reset").
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def make_metrics_dir(workers: int) -> Path | None:
    """Several workers count into files in PROMETHEUS_MULTIPROC_DIR so any one answers /metrics for all
    (server/ops/counters.py): the operator's directory, emptied of an earlier run's counts, or a fresh one that
    is removed again at exit (returned). One worker counts in memory."""
    if workers <= 1:
        return None
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        return None
    made = Path(tempfile.mkdtemp(prefix="checkpass-metrics-"))
    # Read by the workers when they import prometheus_client (they are started after this, with this environment).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(made)
    return made
