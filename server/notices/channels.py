"""An enterprise's notice channels (its settings page): the e-mail addresses for notices and the webhook.

The webhook's signing secret is made here, shown to the enterprise once (the page that saved it), and kept sealed
with the installation's data key; a new URL keeps the secret unless the enterprise asks for a new one.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlmodel import Session, col, select

from passcore.errors import InputError
from server.config import Settings
from server.errors import BadRequest, NotFound
from server.keyring import datakeys
from server.notices import webhooks
from server.notices.models import FAILED, PENDING, NoticeConfig, NoticeDelivery
from server.notices.service import secret_context

__all__ = ["MAX_EMAILS", "deliveries", "parse_emails", "retry", "save"]

MAX_EMAILS = 5
# Deliberately plain: one @, no spaces or separators, a dot in the domain. The SMTP server has the last word.
EMAIL = re.compile(r"^[^@\s,;<>\"']{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z0-9-]{2,63}$")


def parse_emails(text: str) -> list[str]:
    """The addresses of a comma-, semicolon- or line-separated list; BadRequest naming the field otherwise."""
    addresses = [a.strip() for a in re.split(r"[,;\s]+", text) if a.strip()]
    if len(addresses) > MAX_EMAILS or any(not EMAIL.match(a) or len(a) > 254 for a in addresses):
        raise BadRequest(
            f"give up to {MAX_EMAILS} e-mail addresses like name@example.com",
            code="NOTICE_EMAILS_INVALID",
            fields={"emails": "notice_emails_invalid"},
        )
    seen: dict[str, str] = {}
    for address in addresses:
        seen.setdefault(address.lower(), address)
    return list(seen.values())


def save(
    session: Session,
    settings: Settings,
    uscc: str,
    *,
    emails: str,
    webhook_url: str,
    new_secret: bool,
    now: datetime,
) -> str | None:
    """Save the enterprise's channels (committed); the new webhook secret when one was made (to show once).
    Bad input changes nothing."""
    addresses = parse_emails(emails)
    url = webhook_url.strip()
    if url:
        try:
            _scheme, host, port, _path = webhooks.check_url(url)
            webhooks.resolve(host, port, allow_private=settings.webhook_allow_private)
        except InputError as err:
            field = "webhook_private" if err.code == "WEBHOOK_PRIVATE" else "webhook_url_invalid"
            raise BadRequest(err.message, code=err.code, fields={"webhook_url": field}) from err
    config = session.get(NoticeConfig, uscc) or NoticeConfig(enterprise_uscc=uscc, updated_at=now)
    secret: str | None = None
    if not url:
        config.webhook_secret_sealed = ""  # no webhook, no secret: a later URL gets a new one
    elif new_secret or not config.webhook_secret_sealed:
        secret = "whsec_" + secrets.token_urlsafe(32)
        config.webhook_secret_sealed = datakeys.of(session).seal(secret, secret_context(uscc))
    config.emails = ",".join(addresses)
    config.webhook_url = url
    config.updated_at = now
    session.add(config)
    session.commit()
    return secret


def deliveries(
    session: Session,
    *,
    uscc: str | None = None,
    channel: str | None = None,
    state: str | None = None,
    limit: int = 200,
) -> list[NoticeDelivery]:
    """Deliveries, newest first: an enterprise's own (``uscc``) or everyone's (the administrator)."""
    query = select(NoticeDelivery)
    if uscc is not None:
        query = query.where(NoticeDelivery.enterprise_uscc == uscc)
    if channel:
        query = query.where(NoticeDelivery.channel == channel)
    if state:
        query = query.where(NoticeDelivery.state == state)
    return list(
        session.exec(
            query.order_by(col(NoticeDelivery.created_at).desc(), col(NoticeDelivery.id).desc()).limit(limit)
        )
    )


def retry(session: Session, delivery_id: int, *, now: datetime, uscc: str | None = None) -> NoticeDelivery:
    """A failed delivery tried again at the sender's next round (one more try; committed). ``uscc``: only that
    enterprise's."""
    delivery = session.get(NoticeDelivery, delivery_id)
    if delivery is None or (uscc is not None and delivery.enterprise_uscc != uscc):
        raise NotFound("no such delivery")
    if delivery.state != FAILED:
        raise BadRequest("only a failed delivery can be retried", code="DELIVERY_NOT_FAILED")
    delivery.state, delivery.next_try_at = PENDING, now
    session.add(delivery)
    session.commit()
    return delivery
