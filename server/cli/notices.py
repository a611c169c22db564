"""`checkpass notices send`: deliver the notice outbox now (e-mails, webhooks), for cron or a test; `serve` does the
same from a thread every CHECKPASS_NOTICES_INTERVAL_SECONDS."""

from __future__ import annotations

import typer

from server.cli.plumbing import JsonFlag, print_json, state
from server.notices import sender

__all__ = ["app"]

app = typer.Typer(help="Notices: the outbox of e-mails and webhook calls.")


@app.command()
def send(as_json: JsonFlag = False) -> None:
    """Send every notice e-mail and webhook call that is due (safe beside a running server: each is claimed once)."""
    with state() as (settings, session):
        engine = session.get_bind()
        report = sender.send_due(engine, settings)  # type: ignore[arg-type]
    if as_json:
        print_json(report.to_dict())
        return
    typer.echo(f"sent {report.sent}, to retry {report.retried}, failed {report.failed}")
