"""The audit's clock inside `checkpass serve`: a background thread that runs the periodic sweep (escort waits,
recent uploads audited again) every ``audit_interval_minutes`` and, once a day, crossing's partitions for the
next days (PostgreSQL), the retention purge and the verification of every device's chain.

"Once a day" holds across worker processes and servers sharing one database: the day's ``retention_run`` row is
inserted first, and its unique key lets only one worker win it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from server import background
from server.alerts import service as alerts
from server.config import Settings
from server.crossings import partitions
from server.retention import service as retention
from server.retention.models import RetentionRun

__all__ = ["claim_day", "daily", "lifespan", "tick"]

logger = logging.getLogger(__name__)
FIRST_ROUND_DELAY = 5.0  # seconds after start-up


def claim_day(session: Session, now: datetime) -> RetentionRun | None:
    """The day's run, if this worker is the first to claim it (committed), else None."""
    run = RetentionRun(day=now.astimezone(UTC).date().isoformat(), started_at=now)
    session.add(run)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return run


def daily(session: Session, now: datetime) -> dict[str, Any] | None:
    """Purge and verify every chain, once a day; None when the day's run was already claimed."""
    run = claim_day(session, now)
    if run is None:
        return None
    # Crossing's next days' partitions (PostgreSQL): a server without `checkpass worker` (the inline mode) makes
    # them here, a week ahead, so its uploads never pile up in the default partition.
    made = partitions.ensure(session.get_bind(), now)  # type: ignore[arg-type]
    report = retention.purge(session=session, now=now)
    chains = alerts.verify_chains(session=session, now=now)
    run.crossings, run.finished_at = report.crossings, datetime.now(UTC)
    session.add(run)
    session.commit()
    return {
        "purge": report.to_dict(),
        "devices": len(chains),
        "bad_chains": sum(not c.ok for c in chains),
        "partitions_made": sorted(made),
    }


def tick(engine: Engine, settings: Settings, now: datetime) -> None:
    """One round of the periodic work; a failure is logged (its type only: no record contents) and retried
    at the next round."""
    limits = alerts.Limits.of(settings)
    for name, job in (
        # The queue mode leaves the audit queue to `checkpass worker` (issue 15); inline, the sweep works leftovers.
        (
            "sweep",
            lambda s: alerts.sweep(session=s, now=now, limits=limits, work=settings.audit_mode == "inline"),
        ),
        ("daily", lambda s: daily(s, now)),
    ):
        with Session(engine, expire_on_commit=False) as session:
            try:
                result = job(session)
            except Exception as err:  # the serving app must outlive a failing audit round
                session.rollback()
                logger.error("audit %s failed: %s", name, type(err).__name__)
                continue
        if result:
            logger.info("audit %s: %s", name, result if name == "daily" else f"{result} new alerts")


lifespan = background.periodic(
    "checkpass-audit",
    enabled=lambda settings: settings.audit_schedule,
    run=lambda engine, settings: tick(engine, settings, datetime.now(UTC)),
    interval_seconds=lambda settings: settings.audit_interval_minutes * 60,
    first_delay=FIRST_ROUND_DELAY,
)
