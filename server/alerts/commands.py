"""`checkpass audit verify-chains` and `checkpass purge`, added to the `checkpass` app (server/cli.py imports
this module once it has defined the app)."""

from __future__ import annotations

from typing import Annotated

import typer

from server.alerts import service as alerts
from server.cli import JsonFlag, _now, _print_json, _state, app
from server.retention import service as retention

__all__ = ["audit_app"]

audit_app = typer.Typer(help="The bureau's audit.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify-chains")
def verify_chains(as_json: JsonFlag = False) -> None:
    """Verify every device's hash chain; report each one's first bad record (exit 1 if any).

    A bad record is one after a gap, one whose link is broken, or one whose body was edited after upload;
    each raises an alert.
    """
    with _state() as (_settings, session):
        reports = alerts.verify_chains(session=session, now=_now())
    bad = [report for report in reports if not report.ok]
    if as_json:
        _print_json({"ok": not bad, "devices": [report.to_dict() for report in reports]})
    else:
        for report in reports:
            problem = report.problem
            state = (
                "ok"
                if problem is None
                else f"{problem.problem} at seq {problem.seq} (crossing {problem.crossing_id})"
                + (f", missing {problem.missing[0]}-{problem.missing[1]}" if problem.missing else "")
            )
            continues = f"  (continues device {report.continues})" if report.continues else ""
            typer.echo(f"device {report.device_id}  {report.checked:>8} records checked  {state}{continues}")
        typer.echo(f"{len(reports)} devices, {len(bad)} with a bad chain")
    if bad:
        raise typer.Exit(1)


@app.command()
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be purged; change nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Anonymise personal and health data older than the policy's retention period.

    Names, temperatures, origins, travel histories and escort staff go; counts, outcomes, reasons and hashes stay.
    """
    with _state() as (_settings, session):
        report = retention.purge(session=session, now=_now(), dry_run=dry_run)
    if as_json:
        _print_json(report.to_dict())
        return
    verb = "would purge" if dry_run else "purged"
    typer.echo(
        f"{verb} {report.crossings} crossings, {report.conflicts} conflicting uploads and the staff of "
        f"{report.escorts} escorts older than {report.retention_days} days (before {report.cutoff.isoformat()})"
        + (f"; {report.edited} edited bodies raised alerts" if report.edited else "")
    )
