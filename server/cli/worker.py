"""`checkpass worker`: audit the uploads queued by ingest (CHECKPASS_AUDIT_MODE=queue), one batch per transaction.

Run as many as needed, on any machines that reach the PostgreSQL database; they share the queue. SIGTERM (or
Ctrl-C) lets the batch in hand finish and exits 0; a worker killed outright leaves its batch to the others.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from server.alerts import service as alerts
from server.alerts import worker as audit_worker
from server.cli.plumbing import JsonFlag, fail, now
from server.config import get_settings
from server.db import make_engine
from server.ops import logs

__all__ = ["app"]

app = typer.Typer()


def _line(event: audit_worker.Claimed | audit_worker.Done, as_json: bool) -> None:
    """One line per event, flushed at once: the line that says a batch is claimed is out before its audit."""
    if as_json:
        typer.echo(json.dumps(event.to_dict(), sort_keys=True))
    elif isinstance(event, audit_worker.Claimed):
        typer.echo(
            f"claimed {event.entries} entries (#{event.first_id}-#{event.last_id}), "
            f"lag {event.lag_seconds:.1f} s"
        )
    else:
        typer.echo(
            f"audited {event.entries} entries: {event.crossings} crossings, {event.conflicts} conflicts, "
            f"{event.alerts} new alerts, lag {event.lag_seconds:.1f} s"
        )


@app.command()
def worker(
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=10000, help="Queue entries audited per transaction.")
    ] = 500,
    idle_seconds: Annotated[
        float,
        typer.Option(
            "--idle-seconds",
            min=0.05,
            max=3600,
            help="How long to wait before looking at an empty queue again.",
        ),
    ] = 0.5,
    once: Annotated[
        bool, typer.Option("--once", help="Audit what is queued, then exit (instead of waiting for more).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Audit queued uploads: replay, chains, clones, alerts. Prints a line when a batch is claimed and when it is
    committed (entries, lag: how long the batch's oldest entry waited); --json prints them as JSON objects.

    Each batch is one transaction: a worker killed half-way leaves its batch queued for another. SIGTERM lets the
    batch in hand finish, then exits 0.
    """
    settings = get_settings()
    # Warnings (a batch rolled back and claimed again) and errors go to stderr as JSON lines, like `serve`'s;
    # stdout carries the batches' lines.
    logs.configure("info")
    engine = make_engine(settings)
    stop = threading.Event()

    def finish(signum: int, _frame: FrameType | None) -> None:
        # Only a flag: the batch in hand runs to its commit, and the loop ends before claiming another.
        stop.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    if not as_json:
        typer.echo(f"checkpass worker: auditing the queue in batches of {batch} (SIGTERM stops)")
    try:
        audited = audit_worker.run(
            engine,
            size=batch,
            limits=alerts.Limits.of(settings),
            idle_seconds=idle_seconds,
            once=once,
            stop=stop,
            clock=now,
            report=lambda event: _line(event, as_json),
        )
    except audit_worker.WorkerStopped as err:
        logging.getLogger(__name__).error("worker stopped: %s", err)
        fail(str(err), code=1)
    finally:
        engine.dispose()
    if not as_json:
        typer.echo(f"checkpass worker: stopped after auditing {audited} entries")
