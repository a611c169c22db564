"""`checkpass purge`: personal and health data anonymised after the policy's retention period."""

from __future__ import annotations

from typing import Annotated

import typer

from server.cli.plumbing import JsonFlag, now, print_json, state
from server.retention import service as retention

__all__ = ["app"]

app = typer.Typer()


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
    with state() as (_settings, session):
        report = retention.purge(session=session, now=now(), dry_run=dry_run)
    if as_json:
        print_json(report.to_dict())
        return
    verb = "would purge" if dry_run else "purged"
    typer.echo(
        f"{verb} {report.crossings} crossings, {report.conflicts} conflicting uploads and the staff of "
        f"{report.escorts} escorts older than {report.retention_days} days (before {report.cutoff.isoformat()})"
        + (f"; {report.edited} edited bodies raised alerts" if report.edited else "")
    )
