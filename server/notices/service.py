"""``notify``: the one call other parts make to tell someone something (contract of issue 13, §2).

It writes, in the caller's session and so in the caller's transaction (the outbox pattern), a ``notice`` per
recipient and a ``notice_delivery`` per e-mail address and webhook to reach; nothing is sent here. The sender
(``server.notices.sender``) delivers the outbox later, so a slow mail server or webhook never holds a request, and a
rolled-back request leaves no notice behind.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from server.accounts.models import User
from server.errors import NotFound
from server.keyring import datakeys
from server.notices.models import CHANNEL_EMAIL, CHANNEL_WEBHOOK, Notice, NoticeConfig, NoticeDelivery
from server.web.i18n import catalog, translate

__all__ = [
    "SEALED_PARAMS",
    "email",
    "list_for",
    "mark_read",
    "notify",
    "notify_enterprises",
    "open_params",
    "recipients",
    "render",
    "secret_context",
    "unread_count",
]

# Parameters holding a secret (a password-reset link) are sealed with the installation's data key until sent.
SEALED_PARAMS = "v1:"
PARAMS_CONTEXT = "notice_delivery/params"


def _check(kind: str, params: dict[str, str]) -> None:
    # A kind without its texts, or a parameter that is not a string, is the caller's bug: fail in its tests.
    for part in ("subject", "body"):
        if f"notice.{kind}.{part}" not in catalog():
            raise ValueError(f"notice kind {kind!r} has no text notice.{kind}.{part} in locales/notices.json")
    for name, value in params.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError(f"notice parameter {name!r} must be a string")


def recipients(
    session: Session,
    *,
    enterprise_uscc: str | None = None,
    role: str | None = None,
    user_ids: Sequence[int] = (),
) -> list[User]:
    """Every active user of the enterprise, every active user with the role, and the listed (active) users, once
    each, in id order."""
    found: dict[int, User] = {}
    queries = []
    if enterprise_uscc:
        queries.append(select(User).where(User.enterprise_uscc == enterprise_uscc))
    if role:
        queries.append(select(User).where(User.role == role))
    if user_ids:
        queries.append(select(User).where(col(User.id).in_(list(user_ids))))
    for query in queries:
        for user in session.exec(query.where(col(User.active).is_(True))):
            assert user.id is not None
            found[user.id] = user
    return [found[key] for key in sorted(found)]


def render(kind: str, params: dict[str, str], lang: str) -> tuple[str, str]:
    """(subject, body) of a notice in ``lang``."""
    return (
        translate(f"notice.{kind}.subject", lang, **params),
        translate(f"notice.{kind}.body", lang, **params),
    )


@dataclass(frozen=True)
class _Audience:
    """Who a notice reaches: its users, and the enterprise's own addresses and webhook (``config``)."""

    users: list[User]
    config: NoticeConfig | None


def _audience(
    session: Session, *, enterprise_uscc: str | None, role: str | None, user_ids: Sequence[int]
) -> _Audience:
    users = recipients(session, enterprise_uscc=enterprise_uscc, role=role, user_ids=user_ids)
    return _Audience(users, session.get(NoticeConfig, enterprise_uscc) if enterprise_uscc else None)


def notify(
    session: Session,
    kind: str,
    params: dict[str, str],
    *,
    now: datetime,
    link: str = "",
    enterprise_uscc: str | None = None,
    role: str | None = None,
    user_ids: Sequence[int] = (),
) -> None:
    """Tell the recipients (see ``recipients``) about ``kind``: a notice each, an e-mail to each recipient's address
    and to the enterprise's notice addresses, and a call of the enterprise's webhook. Added to ``session``; the
    caller commits (or rolls back) them with its own work."""
    _check(kind, params)
    audience = _audience(session, enterprise_uscc=enterprise_uscc, role=role, user_ids=user_ids)
    _write(session, kind, params, now=now, link=link, enterprise_uscc=enterprise_uscc, audience=audience)


def notify_enterprises(
    session: Session, kind: str, notices: Sequence[tuple[dict[str, str], str, str]], *, now: datetime
) -> None:
    """``notify`` for several notices of one kind, each to an enterprise: (params, link, enterprise_uscc) each. The
    same as calling ``notify`` for each in turn, but each enterprise's users and notice settings are read once
    (an upload's escort requests: hundreds of notices to a few enterprises)."""
    audiences: dict[str, _Audience] = {}
    for params, link, uscc in notices:
        _check(kind, params)
        if uscc not in audiences:
            audiences[uscc] = _audience(session, enterprise_uscc=uscc, role=None, user_ids=())
        _write(session, kind, params, now=now, link=link, enterprise_uscc=uscc, audience=audiences[uscc])


def _write(
    session: Session,
    kind: str,
    params: dict[str, str],
    *,
    now: datetime,
    link: str,
    enterprise_uscc: str | None,
    audience: _Audience,
) -> None:
    params_json = json.dumps(params, ensure_ascii=False, sort_keys=True)
    emailed: set[str] = set()

    def deliver(channel: str, target: str, lang: str, uscc: str | None) -> None:
        # ``uscc`` marks what the enterprise sees in its own delivery log: its users' and its own addresses and
        # webhook, never a bureau user's address that the same notice also reached.
        session.add(
            NoticeDelivery(
                channel=channel,
                enterprise_uscc=uscc,
                target=target,
                lang=lang,
                kind=kind,
                params=params_json,
                link=link,
                next_try_at=now,
                created_at=now,
            )
        )

    for user in audience.users:
        assert user.id is not None
        session.add(Notice(user_id=user.id, kind=kind, params=params_json, link=link, created_at=now))
        address = (user.email or "").strip()
        if address and address.lower() not in emailed:
            emailed.add(address.lower())
            deliver(CHANNEL_EMAIL, address, user.lang or "zh", user.enterprise_uscc)
    if enterprise_uscc:
        config = audience.config
        if config is not None:
            for address in (a.strip() for a in config.emails.split(",")):
                if address and address.lower() not in emailed:
                    emailed.add(address.lower())
                    deliver(CHANNEL_EMAIL, address, "zh", enterprise_uscc)
            if config.webhook_url:
                deliver(CHANNEL_WEBHOOK, config.webhook_url, "zh", enterprise_uscc)


def secret_context(uscc: str) -> str:
    """Where an enterprise's sealed webhook secret is stored (the associated data of its seal)."""
    return f"notice_config/{uscc}/webhook_secret"


def open_params(session: Session, delivery: NoticeDelivery) -> dict[str, str]:
    """A delivery's parameters, opened when sealed."""
    text = delivery.params
    if text.startswith(SEALED_PARAMS):
        text = datakeys.of(session).open(text, PARAMS_CONTEXT)
    params: dict[str, str] = json.loads(text)
    return params


def email(
    session: Session,
    to: str,
    kind: str,
    params: dict[str, str],
    *,
    lang: str,
    now: datetime,
    sealed: bool = False,
) -> None:
    """One e-mail to ``to`` through the outbox, with no notice in the portal (a password reset). ``sealed``: the
    parameters are encrypted at rest until sent, then dropped."""
    _check(kind, params)
    text = json.dumps(params, ensure_ascii=False, sort_keys=True)
    if sealed:
        text = datakeys.of(session).seal(text, PARAMS_CONTEXT)
    session.add(
        NoticeDelivery(
            channel=CHANNEL_EMAIL,
            target=to,
            lang=lang,
            kind=kind,
            params=text,
            next_try_at=now,
            created_at=now,
        )
    )


def unread_count(session: Session, user_id: int) -> int:
    return len(
        session.exec(
            select(Notice.id).where(Notice.user_id == user_id, col(Notice.read_at).is_(None)).limit(100)
        ).all()
    )


def list_for(session: Session, user_id: int, *, limit: int = 100) -> list[Notice]:
    """The user's notices, newest first."""
    return list(
        session.exec(
            select(Notice)
            .where(Notice.user_id == user_id)
            .order_by(col(Notice.created_at).desc(), col(Notice.id).desc())
            .limit(limit)
        )
    )


def mark_read(session: Session, user_id: int, *, now: datetime, notice_id: int | None = None) -> int:
    """Mark one of the user's notices read (NotFound if it is not theirs), or all when ``notice_id`` is None;
    the number marked. Committed."""
    query = select(Notice).where(Notice.user_id == user_id, col(Notice.read_at).is_(None))
    if notice_id is not None:
        notice = session.get(Notice, notice_id)
        if notice is None or notice.user_id != user_id:
            raise NotFound("no such notice")
        query = query.where(Notice.id == notice_id)
    marked = 0
    for notice in session.exec(query):
        notice.read_at = now
        session.add(notice)
        marked += 1
    session.commit()
    return marked


def forget(session: Session, cutoff: datetime) -> int:
    """Delete the notices and deliveries made before ``cutoff`` (retention): their parameters can hold a reason
    or an answer that names people. Returns how many notices went."""
    deliveries = delete(NoticeDelivery).where(col(NoticeDelivery.created_at) < cutoff)
    session.execute(deliveries)
    result = session.execute(delete(Notice).where(col(Notice.created_at) < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
