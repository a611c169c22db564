"""`checkpass`: the server side's command line (docs/design.md, "Contracts"), composed from one Typer app per group.

Every command reads its settings once, works in one database transaction and prints either a line for people
or, with --json, a JSON document. Bad input exits 2 with one line on stderr; never a traceback.
"""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import SQLAlchemyError

from passcore.errors import CheckpassError
from server.cli import (
    audit,
    backup,
    bundle,
    demo,
    install,
    keys,
    notices,
    officers,
    partitions,
    passes,
    policy,
    report,
    retention,
    serve,
    trustroot,
    users,
    worker,
)
from server.errors import AppError

__all__ = ["app", "main"]

app = typer.Typer(
    help="Checkpoint vehicle passes: the bureau's side.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Unnamed: their commands sit at the top level (`checkpass init`), in this order in --help.
for commands in (install, passes, serve, demo, retention, backup, worker, partitions):
    app.add_typer(commands.app)
app.add_typer(keys.app, name="keys")
app.add_typer(trustroot.app, name="root")  # issue 15 (E): the root key's ceremony
app.add_typer(users.app, name="user")
app.add_typer(officers.app, name="officer")
app.add_typer(policy.app, name="policy")
app.add_typer(bundle.app, name="bundle")
app.add_typer(audit.app, name="audit")
app.add_typer(report.app, name="report")
app.add_typer(notices.app, name="notices")


def main() -> None:
    # Typer handles usage errors (exit 2) and typer.Exit itself; our own errors are turned into one line here.
    try:
        app()
    except CheckpassError as err:
        typer.echo(f"checkpass: error: {err.message}", err=True)
        sys.exit(2)
    except AppError as err:
        typer.echo(f"checkpass: error: {err.detail}", err=True)
        sys.exit(2)
    except SQLAlchemyError as err:
        typer.echo(
            f"checkpass: database error: {type(err).__name__}: {str(err).splitlines()[0]}"
            " (run `checkpass init`; is CHECKPASS_DATABASE_URL right?)",
            err=True,
        )
        sys.exit(1)
