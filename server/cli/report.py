"""`checkpass report daily --day 2026-12-04 --out report.pdf`: the day's report for the bureau's leadership, as
a PDF in Chinese with its charts (server/audit/report.py, report_pdf.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from server import pdf_font
from server.audit import report, report_pdf
from server.cli.plumbing import JsonFlag, fail, now, print_json, state

__all__ = ["app"]

app = typer.Typer(help="Reports for the bureau's leadership.", no_args_is_help=True)


@app.command("daily")
def daily(
    day: Annotated[str, typer.Option("--day", help="The local day, YYYY-MM-DD (default: yesterday).")] = "",
    out: Annotated[Path, typer.Option("--out", help="Where to write the PDF.", dir_okay=False)] = Path(
        "daily-report.pdf"
    ),
    as_json: JsonFlag = False,
) -> None:
    """Write the day's report (crossings by outcome and checkpoint, fevers, escorts, refusals, alerts) as PDF."""
    moment = now()
    with state() as (settings, session):
        wanted = report.parse_day(day) if day else report.yesterday(moment, settings.timezone)
        pdf_font.use(settings.pdf_font)
        found = report.gather(session, day=wanted, zone=settings.timezone, now=moment)
    data = report_pdf.render(found)
    try:
        out.write_bytes(data)
    except OSError as err:
        fail(f"cannot write {out}: {err.strerror or err}")
    if as_json:
        print_json(
            {
                "day": wanted.isoformat(),
                "out": str(out),
                "bytes": len(data),
                "crossings": found.totals["total"],
            }
        )
    else:
        typer.echo(
            f"daily report for {wanted.isoformat()}: {found.totals['total']} crossings, written to {out}"
        )
