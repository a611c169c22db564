"""`checkpass audit verify-chains`: every checkpoint device's hash chain, checked on the server's copy;
`checkpass audit status`: the audit queue's length and lag (issue 15)."""

from __future__ import annotations

import typer

from server.alerts import queue
from server.alerts import service as alerts
from server.cli.plumbing import JsonFlag, now, print_json, state

__all__ = ["app"]

app = typer.Typer(help="The bureau's audit.", no_args_is_help=True)


@app.command("verify-chains")
def verify_chains(as_json: JsonFlag = False) -> None:
    """Verify every device's hash chain; report each one's first bad record (exit 1 if any).

    A bad record is one after a gap, one whose link is broken, or one whose body was edited after upload;
    each raises an alert.
    """
    with state() as (_settings, session):
        reports = alerts.verify_chains(session=session, now=now())
    bad = [report for report in reports if not report.ok]
    if as_json:
        print_json({"ok": not bad, "devices": [report.to_dict() for report in reports]})
    else:
        for report in reports:
            problem = report.problem
            status = (
                "ok"
                if problem is None
                else f"{problem.problem} at seq {problem.seq} (crossing {problem.crossing_id})"
                + (f", missing {problem.missing[0]}-{problem.missing[1]}" if problem.missing else "")
            )
            continues = f"  (continues device {report.continues})" if report.continues else ""
            typer.echo(f"device {report.device_id}  {report.checked:>8} records checked  {status}{continues}")
        typer.echo(f"{len(reports)} devices, {len(bad)} with a bad chain")
    if bad:
        raise typer.Exit(1)


@app.command("status")
def status(as_json: JsonFlag = False) -> None:
    """The audit queue: uploads waiting for their audit, and the audit lag (how long the oldest has waited)."""
    with state() as (_settings, session):
        found = queue.stats(session, now())
    if as_json:
        print_json(found.to_dict())
    elif found.oldest_enqueued_at is not None:
        typer.echo(
            f"{found.length} queued uploads waiting for their audit; the oldest since "
            f"{found.oldest_enqueued_at.isoformat()} (lag {found.lag_seconds:.1f} s)"
        )
    else:
        typer.echo("the audit queue is empty: every upload is audited")
