"""``/metrics``: the counters of ``counters`` plus what the database knows, read when Prometheus scrapes.

Read at scrape time (a collector, not counters kept in memory), so every server process answers the same, and
the figures are right after a restart: the audit queue's length and lag (``alerts.queue.stats``), the newest trust
bundle's version and age, and the alerts not yet closed by kind. If the database cannot be read, the scrape still
answers, with ``checkpass_database_up 0`` and the counters.

Several workers (the client's multiprocess mode, see ``counters``): the counters come from every worker's files
through a ``MultiProcessCollector``; in one process, from the default registry (with the process's CPU, memory
and file figures).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, func, select

from server.alerts import queue
from server.alerts.models import ALERT_ACKNOWLEDGED, ALERT_OPEN, Alert
from server.bundles.models import BundleVersion
from server.ops import counters

__all__ = ["CONTENT_TYPE", "DatabaseCollector", "exposition"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
logger = logging.getLogger(__name__)


class DatabaseCollector(Collector):
    """The figures the database holds, at ``now``."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("checkpass_database_up", "1 when the database answered this scrape's queries")
        try:
            figures = list(self._figures())
        except SQLAlchemyError as err:
            self.session.rollback()
            logger.error("metrics: the database did not answer: %s", type(err).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from figures

    def _figures(self) -> Iterator[Metric]:
        waiting = queue.stats(self.session, self.now)
        yield GaugeMetricFamily(
            "checkpass_audit_queue_length", "Audit queue entries waiting to be audited", value=waiting.length
        )
        yield GaugeMetricFamily(
            "checkpass_audit_queue_lag_seconds",
            "Audit lag: how long the oldest waiting entry has waited (0 when the queue is empty)",
            value=waiting.lag_seconds,
        )
        newest = self.session.exec(
            select(BundleVersion.version, BundleVersion.issued_at, BundleVersion.expires_at)
            .order_by(col(BundleVersion.version).desc())
            .limit(1)
        ).first()
        version = GaugeMetricFamily("checkpass_bundle_version", "Version of the newest signed trust bundle")
        age = GaugeMetricFamily(
            "checkpass_bundle_age_seconds", "Time since the newest trust bundle was signed"
        )
        left = GaugeMetricFamily(
            "checkpass_bundle_expires_in_seconds",
            "Time until the newest trust bundle expires (negative: expired)",
        )
        if newest is not None:  # no bundle yet: the series are absent, not a made-up 0
            version.add_metric([], newest[0])
            age.add_metric([], (self.now - newest[1]).total_seconds())
            left.add_metric([], (newest[2] - self.now).total_seconds())
        yield from (version, age, left)
        alerts = GaugeMetricFamily(
            "checkpass_alerts_open",
            "Alerts not closed yet, by kind and status (open: nobody has looked; acknowledged: being worked)",
            labels=["kind", "status"],
        )
        rows = self.session.exec(
            select(Alert.kind, Alert.status, func.count())
            .where(col(Alert.status).in_((ALERT_OPEN, ALERT_ACKNOWLEDGED)))
            .group_by(col(Alert.kind), col(Alert.status))
        ).all()
        for kind, status, number in sorted(rows):
            alerts.add_metric([kind, status], number)
        yield alerts


class _Process(Collector):
    """This process's default registry (counters, process and platform figures), inside a scrape's registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition(session: Session, now: datetime) -> bytes:
    """The text format of every metric, for one scrape."""
    registry = CollectorRegistry()
    if counters.MULTIPROCESS:
        MultiProcessCollector(registry)
    else:
        registry.register(_Process())
    registry.register(DatabaseCollector(session, now))
    return generate_latest(registry)
