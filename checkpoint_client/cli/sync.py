"""`checkpoint sync`: send stored decisions and hand-overs, fetch the newest trust bundle and escort answers.

Exit codes: 0 done (records the server refused are listed, kept and not resent); 2 not enrolled, the credential
refused (enrol again) or a local problem; 4 the server could not be reached after retries (nothing is lost:
the decisions stay in the outbox for the next sync).
"""

from __future__ import annotations

import typer

from checkpoint_client.cli.plumbing import EXIT_BAD_INPUT, EXIT_UNREACHABLE, JsonFlag, print_json
from checkpoint_client.config import get_settings
from checkpoint_client.store import Store
from checkpoint_client.sync import SyncError, SyncReport, sync_once

__all__ = ["app"]

app = typer.Typer()


def _describe(report: SyncReport) -> list[str]:
    lines = [
        f"uploaded {report.uploaded} record(s), {report.duplicate} already on the server, "
        f"{report.pending} still waiting"
    ]
    for item in report.refused:
        lines.append(
            f"  refused by the server: seq {item['seq']} {item['id']}: {item['status']} {item['code']}"
        )
    bundle = report.bundle
    if bundle.get("status") == "refused":
        lines.append(f"trust bundle from the server refused: {bundle.get('code')}: {bundle.get('message')}")
    elif bundle.get("version") is not None:
        word = "updated to" if bundle.get("status") == "updated" else "unchanged,"
        lines.append(
            f"trust bundle {word} version {bundle['version']}" + (" (STALE)" if bundle.get("stale") else "")
        )
    if report.clock_skew:
        lines.append(
            "WARNING: this laptop's clock is earlier than the trust bundle's issue time: set the clock"
        )
    lines.append(
        f"escort requests received: {report.escorts_received}; hand-overs sent: {report.handovers_sent}"
    )
    for item in report.handover_errors:
        lines.append(f"  hand-over refused for crossing {item['crossing_id']}: {item['code']}")
    if report.officers.get("status") == "updated":
        count = report.officers["count"]
        lines.append(
            f"officers of this checkpoint: {count}" + (" (the screen asks for a sign-in)" if count else "")
        )
    return lines


@app.command()
def sync(as_json: JsonFlag = False) -> None:
    """Send stored decisions to the server and fetch the trust bundle and escort answers (retries with back-off)."""
    settings = get_settings()
    store = Store.open(settings.store_path)
    try:
        report = sync_once(settings, store)
    except SyncError as err:
        if as_json and err.report is not None:
            print_json(err.report.to_dict() | {"error": {"code": err.code, "message": err.message}})
        typer.echo(f"checkpoint: error: {err.message}", err=True)
        raise typer.Exit(EXIT_UNREACHABLE if err.code == "SERVER_UNREACHABLE" else EXIT_BAD_INPUT) from None
    finally:
        store.close()
    if as_json:
        print_json(report.to_dict())
    else:
        typer.echo("\n".join(_describe(report)))
