"""``notify``: the one call other parts make to tell someone something (contract of issue 13, §2).

It writes, in the caller's session and so in the caller's transaction (the outbox pattern), a ``notice`` per
recipient and a ``notice_delivery`` per e-mail address and webhook to reach; nothing is sent here. The sender
(``server.notices.sender``) delivers the outbox later, so a slow mail server or webhook never holds a request, and a
rolled-back request leaves no notice behind.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from server.accounts.models import User
from server.notices.models import CHANNEL_EMAIL, CHANNEL_WEBHOOK, Notice, NoticeConfig, NoticeDelivery
from server.web.i18n import catalog, translate

__all__ = ["notify", "recipients", "render"]


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
    params_json = json.dumps(params, ensure_ascii=False, sort_keys=True)
    users = recipients(session, enterprise_uscc=enterprise_uscc, role=role, user_ids=user_ids)
    emailed: set[str] = set()

    def deliver(channel: str, target: str, lang: str) -> None:
        session.add(
            NoticeDelivery(
                channel=channel,
                enterprise_uscc=enterprise_uscc,
                target=target,
                lang=lang,
                kind=kind,
                params=params_json,
                link=link,
                next_try_at=now,
                created_at=now,
            )
        )

    for user in users:
        assert user.id is not None
        session.add(Notice(user_id=user.id, kind=kind, params=params_json, link=link, created_at=now))
        address = (user.email or "").strip()
        if address and address.lower() not in emailed:
            emailed.add(address.lower())
            deliver(CHANNEL_EMAIL, address, user.lang or "zh")
    if enterprise_uscc:
        config = session.get(NoticeConfig, enterprise_uscc)
        if config is not None:
            for address in (a.strip() for a in config.emails.split(",")):
                if address and address.lower() not in emailed:
                    emailed.add(address.lower())
                    deliver(CHANNEL_EMAIL, address, "zh")
            if config.webhook_url:
                deliver(CHANNEL_WEBHOOK, config.webhook_url, "zh")
