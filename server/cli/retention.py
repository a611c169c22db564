"""`checkpass purge`: personal and health data removed after the policy's retention period."""

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
    full_vacuum: Annotated[
        bool,
        typer.Option(
            "--full-vacuum",
            help="PostgreSQL: VACUUM FULL the purged tables, so no old bytes stay in their files "
            "(locks each table while it is rewritten: run it in a quiet hour).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Anonymise personal and health data older than the policy's retention period.

    Names, ID numbers, phones, temperatures, origins, travel histories, escort staff and alert notes go; counts,
    outcomes, reasons and hashes stay. Crossings count as old by their claimed time or their time of receipt.
    """
    with state() as (_settings, session):
        report = retention.purge(session=session, now=now(), dry_run=dry_run, full_vacuum=full_vacuum)
    if as_json:
        print_json(report.to_dict())
        return
    verb = "would purge" if dry_run else "purged"
    typer.echo(
        f"{verb} {report.crossings} crossings, {report.conflicts} conflicting uploads and the staff of "
        f"{report.escorts} escorts, the people of {report.applications} applications and {report.passes} "
        f"passes and the notes of {report.alerts} alerts older than {report.retention_days} days "
        f"(before {report.cutoff.isoformat()}), and {report.attempts} sign-in and registration attempts "
        "older than a day"
        + (f"; {report.edited} edited bodies raised alerts" if report.edited else "")
        + (f"; whole days replaced: {', '.join(report.partitions)}" if report.partitions else "")
    )
