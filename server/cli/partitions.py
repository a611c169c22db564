"""`checkpass partitions`: make crossing's day partitions ahead (PostgreSQL) and list them."""

from __future__ import annotations

from typing import Annotated

import typer

from server.cli.plumbing import JsonFlag, fail, now, print_json, state
from server.crossings import partitions as crossing_partitions

__all__ = ["app"]

app = typer.Typer()


@app.command()
def partitions(
    ahead: Annotated[
        int, typer.Option("--ahead", help="Days after today to make partitions for (0 to 366).")
    ] = crossing_partitions.DAYS_AHEAD,
    as_json: JsonFlag = False,
) -> None:
    """Make crossing's partitions for today and the next days (PostgreSQL; `checkpass worker` does it hourly),
    moving any rows of those days out of the default partition, then list every partition with its rows."""
    if not 0 <= ahead <= 366:
        fail("--ahead must be between 0 and 366 days")
    with state() as (_settings, session):
        engine = session.get_bind()
        session.rollback()  # nothing of ours is open while partitions are attached
        # Run by hand: waits for its locks (a long audit export, say) instead of giving up as a worker does.
        made = crossing_partitions.ensure(engine, now(), days_ahead=ahead, lock_timeout_ms=None)  # type: ignore[arg-type]
        listed = crossing_partitions.listing(session.connection())
    if as_json:
        print_json({"made": made, "partitions": [p.to_dict() for p in listed]})
        return
    if not listed:
        typer.echo("crossing is not partitioned here (SQLite keeps one table): nothing to do")
        return
    for name, moved in made.items():
        typer.echo(
            f"made {name}" + (f", {moved} rows moved in from {crossing_partitions.DEFAULT}" if moved else "")
        )
    for partition in listed:
        bounds = (
            "default"
            if partition.day is None
            else f"{partition.lower:%Y-%m-%d} .. {partition.upper:%Y-%m-%d}"
        )
        rows = "not analysed yet" if partition.rows < 0 else f"{partition.rows} rows"
        typer.echo(f"{partition.name}\t{bounds}\t{rows}")
