"""`checkpass`, the bureau's command line: `root` joins one Typer app per command group (`install`, `passes`,
`serve`, `demo`, `retention`, `keys`, `users`, `policy`, `bundle`, `audit`); `plumbing` holds what they share.

The console script is ``server.cli:main``.
"""

from server.cli.root import app, main

__all__ = ["app", "main"]
