"""The checkpoint's retention: decisions the server holds are purged from the laptop once older than the policy's
``retention_days`` (the signed policy in the held bundle), by `checkpoint purge` and once a day after a sync.
Decisions not yet on the server are never purged (``store.Store.purge``). Drafts of the form (names and
temperatures typed for a vehicle never decided) expire after ``drafts.EXPIRE`` and go at the same time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from checkpoint_client import truststore
from checkpoint_client.config import Settings
from checkpoint_client.drafts import Drafts
from checkpoint_client.store import LocalPurge, Store

__all__ = ["LAST_PURGE", "purge", "purge_daily"]

LAST_PURGE = "purged_on"  # sync_state key: the UTC day of the last purge


def purge(settings: Settings, store: Store, *, now: datetime) -> tuple[LocalPurge, int]:
    """Purge what is past the held policy's retention; (what was done, the retention in days)."""
    days = truststore.held_policy(settings).retention_days
    done = store.purge(now - timedelta(days=days))
    drafts = Drafts(store.path)
    try:
        drafts.expire(now=now)
    finally:
        drafts.close()
    store.set_state(LAST_PURGE, now.astimezone(UTC).date().isoformat())
    return done, days


def purge_daily(settings: Settings, store: Store, *, now: datetime) -> LocalPurge | None:
    """``purge``, unless it already ran today (the file is rewritten each time: not at every sync)."""
    if store.get_state(LAST_PURGE) == now.astimezone(UTC).date().isoformat():
        return None
    return purge(settings, store, now=now)[0]
