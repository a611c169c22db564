"""Throttling of sign-in and registration, counted in the database so that every worker sees the same counts.

Sign-in backs off per account *and* source address: after ``login_max_failures`` failures of one account from one
address (within ``login_window_minutes``, since that address last signed in to it), that address waits 1 minute
before its next try for that account, then 2, 4, 8 … at most the window. The account's owner signing in from
elsewhere is not slowed, so nobody can lock anyone out by failing on purpose. One address failing on many
accounts is held back too: ``login_source_max_failures`` failures within the window, whatever the accounts.
Registrations are limited per address and hour (``registration_max_per_hour``).

An attempt is written *before* it is judged: requests sent in parallel see each other and cannot slip past the
count together. A refused attempt is removed again, so waiting out ``Retry-After`` is enough; retrying early
does not lengthen the wait. The attempts name an account and an address: the retention purge removes them once
no window can need them (``forget``).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, delete, func, select

from server.accounts.models import LoginAttempt, RegistrationAttempt
from server.config import Settings
from server.errors import TooManyRequests

__all__ = ["KEPT", "begin_login", "begin_registration", "finish_login", "forget"]

BACKOFF_FIRST = timedelta(minutes=1)
REGISTRATION_WINDOW = timedelta(hours=1)
KEPT = timedelta(days=1)  # the longest window any setting allows (login_window_minutes ≤ 1440)


def _seconds(until: datetime, now: datetime) -> int:
    return max(0, math.ceil((until - now).total_seconds()))


def _pair_wait(session: Session, attempt: LoginAttempt, settings: Settings, now: datetime) -> int:
    window = timedelta(minutes=settings.login_window_minutes)
    pair = (col(LoginAttempt.username) == attempt.username, col(LoginAttempt.client) == attempt.client)
    last_success = session.exec(
        select(func.max(LoginAttempt.at)).where(*pair, col(LoginAttempt.success).is_(True))
    ).one()
    since = max(now - window, last_success) if last_success else now - window
    failures, newest = session.exec(
        select(func.count(), func.max(LoginAttempt.at)).where(
            *pair,
            col(LoginAttempt.success).is_(False),
            col(LoginAttempt.at) >= since,
            col(LoginAttempt.id) != attempt.id,
        )
    ).one()
    if failures < settings.login_max_failures or newest is None:
        return 0
    doublings = min(failures - settings.login_max_failures, 16)
    return _seconds(newest + min(window, BACKOFF_FIRST * 2**doublings), now)


def _oldest_to_expire(session: Session, query: Any, count: int, limit: int) -> datetime:
    """The time of the attempt whose leaving the window brings ``count`` below ``limit``."""
    return session.exec(query.offset(count - limit).limit(1)).one()  # type: ignore[no-any-return]


def _source_wait(session: Session, attempt: LoginAttempt, settings: Settings, now: datetime) -> int:
    window = timedelta(minutes=settings.login_window_minutes)
    where = (
        col(LoginAttempt.client) == attempt.client,
        col(LoginAttempt.success).is_(False),
        col(LoginAttempt.at) >= now - window,
        col(LoginAttempt.id) != attempt.id,
    )
    failures = session.exec(select(func.count()).select_from(LoginAttempt).where(*where)).one()
    if failures < settings.login_source_max_failures:
        return 0
    times = select(LoginAttempt.at).where(*where).order_by(col(LoginAttempt.at))
    return _seconds(
        _oldest_to_expire(session, times, failures, settings.login_source_max_failures) + window, now
    )


def begin_login(
    *, session: Session, username: str, client: str, settings: Settings, now: datetime
) -> LoginAttempt:
    """The attempt, recorded as failed until ``finish_login``; TooManyRequests with ``Retry-After`` if it must wait."""
    attempt = LoginAttempt(username=username, client=client[:64].replace("\x00", ""), at=now, success=False)
    session.add(attempt)
    session.commit()  # visible to parallel attempts before any of them is judged
    wait = max(_pair_wait(session, attempt, settings, now), _source_wait(session, attempt, settings, now))
    if wait:
        session.delete(attempt)
        session.commit()
        raise TooManyRequests(
            "too many failed sign-ins; wait and try again",
            code="LOGIN_THROTTLED",
            headers={"Retry-After": str(wait)},
        )
    return attempt


def finish_login(*, session: Session, attempt: LoginAttempt, success: bool) -> None:
    attempt.success = success
    session.add(attempt)
    session.commit()  # the attempt counts even though the request fails


def begin_registration(*, session: Session, client: str, settings: Settings, now: datetime) -> None:
    """Count a registration from ``client``; TooManyRequests with ``Retry-After`` past the hourly limit."""
    attempt = RegistrationAttempt(client=client[:64].replace("\x00", ""), at=now)
    session.add(attempt)
    session.commit()
    where = (
        col(RegistrationAttempt.client) == attempt.client,
        col(RegistrationAttempt.at) >= now - REGISTRATION_WINDOW,
        col(RegistrationAttempt.id) != attempt.id,
    )
    earlier = session.exec(select(func.count()).select_from(RegistrationAttempt).where(*where)).one()
    if earlier < settings.registration_max_per_hour:
        return
    times = select(RegistrationAttempt.at).where(*where).order_by(col(RegistrationAttempt.at))
    oldest = _oldest_to_expire(session, times, earlier, settings.registration_max_per_hour)
    session.delete(attempt)
    session.commit()
    raise TooManyRequests(
        "too many registrations from your network; wait and try again",
        code="REGISTRATION_THROTTLED",
        headers={"Retry-After": str(max(1, _seconds(oldest + REGISTRATION_WINDOW, now)))},
    )


def forget(*, session: Session, now: datetime, dry_run: bool = False) -> int:
    """Remove (or, ``dry_run``, count) the attempts older than any window reads. Not committed."""
    before = now - KEPT
    count = 0
    for model in (LoginAttempt, RegistrationAttempt):
        old = col(model.at) < before
        if dry_run:
            count += session.exec(select(func.count()).select_from(model).where(old)).one()
        else:
            count += session.exec(delete(model).where(old)).rowcount  # type: ignore[call-overload]
    return count
