"""Periodic work inside `checkpass serve` (the audit's sweep and daily purge, the notice sender): a daemon thread
started and stopped with the app's lifespan, one per worker process. Rounds must be safe to run in several workers
and servers at once; each job's module says how it is."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy.engine import Engine

from server.config import Settings

__all__ = ["periodic"]

Lifespan = Callable[[Any], AbstractAsyncContextManager[None]]


def periodic(
    name: str,
    *,
    enabled: Callable[[Settings], bool],
    run: Callable[[Engine, Settings], None],
    interval_seconds: Callable[[Settings], float],
    first_delay: float,
) -> Lifespan:
    """A lifespan that runs ``run`` every ``interval_seconds`` after ``first_delay`` while the app serves.

    ``run`` handles its own failures: the serving app must outlive a failing round. The first delay lets the app
    answer requests first, and a short-lived app (a test client that starts the lifespan) stops before any round.
    """

    def loop(engine: Engine, settings: Settings, stop: threading.Event) -> None:
        delay = first_delay
        while not stop.wait(delay):
            run(engine, settings)
            delay = interval_seconds(settings)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        settings: Settings = app.state.settings
        if not enabled(settings):
            yield
            return
        stop = threading.Event()
        thread = threading.Thread(
            target=loop, args=(app.state.engine, settings, stop), name=name, daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            # A round in progress is not waited for long: each is a transaction (a stopped one rolls back and the
            # next round does it again), and the thread is a daemon, so a server stops promptly on SIGTERM.
            thread.join(timeout=2)

    return lifespan
