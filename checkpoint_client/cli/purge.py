"""`checkpoint purge`: delete the decisions older than the policy's retention that the server already holds.

Exit codes: 0 done; 2 no trust bundle held (the retention is the signed policy's) or a local problem.
"""

from __future__ import annotations

import typer

from checkpoint_client import retention
from checkpoint_client.cli.plumbing import JsonFlag, now, print_json
from checkpoint_client.config import get_settings
from checkpoint_client.store import Store

__all__ = ["app"]

app = typer.Typer()


@app.command()
def purge(as_json: JsonFlag = False) -> None:
    """Delete synced decisions older than the policy's retention (also done once a day after a sync)."""
    settings = get_settings()
    store = Store.open(settings.store_path)
    try:
        done, days = retention.purge(settings, store, now=now())
    finally:
        store.close()
    if as_json:
        print_json(done.to_dict() | {"retention_days": days})
        return
    typer.echo(
        f"purged {done.decisions} decision(s) and {done.escorts} escort(s) older than {days} days "
        f"(before {done.cutoff}); {done.kept_unsynced} older decision(s) kept: not on the server yet"
    )
