"""`checkpoint`: the checkpoint side's command line (docs/design.md, "Contracts"), composed from one Typer app per group.

Exit codes: 0 a verified pass or a decision made; 2 bad input; 3 a pass that does not verify; 4 (`enroll`,
`sync`) the server could not be reached. Every error is one line on stderr; never a traceback for bad input.
"""

from __future__ import annotations

import sys

import typer

from checkpoint_client.cli import bundle, enroll, purge, run, scan, sync, verify
from checkpoint_client.cli.plumbing import EXIT_BAD_INPUT
from passcore.errors import CheckpassError

__all__ = ["app", "main"]

app = typer.Typer(
    help="Checkpoint vehicle passes: the checkpoint's side (works offline).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Unnamed: their commands sit at the top level (`checkpoint verify`), in this order in --help.
for commands in (verify, enroll, run, scan, sync, purge):
    app.add_typer(commands.app)
app.add_typer(bundle.app, name="bundle")


def main() -> None:
    try:
        app()
    except CheckpassError as err:
        typer.echo(f"checkpoint: error: {err.message}", err=True)
        sys.exit(EXIT_BAD_INPUT)
