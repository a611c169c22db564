"""`checkpoint`, the officer's command line: `root` joins one Typer app per command group (`verify` with
`decide`, `enroll`, `run`, `scan`, `sync`, `bundle`); `plumbing` holds what they share.

The console script is ``checkpoint_client.cli:main``.
"""

from checkpoint_client.cli.root import app, main

__all__ = ["app", "main"]
