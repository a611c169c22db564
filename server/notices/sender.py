"""The sender: delivers the outbox (``notice_delivery``) by e-mail and webhook, outside any request.

It runs as a thread inside `checkpass serve` (every ``notices_interval_seconds``) and as `checkpass notices send`
(cron, tests). Several senders (workers, servers) can run at once: a row is claimed by a conditional UPDATE (pending
and due, or claimed by a sender whose lease ran out) that only one of them wins; on PostgreSQL the candidates are
read with FOR UPDATE SKIP LOCKED first, so senders do not queue behind each other's claims. A claimed row is sent
with no transaction open, then its outcome is written: sent, or a retry after an exponential back-off
(``notice_retry_seconds`` doubled after each failure, at most 6 h), or failed after ``notice_max_attempts`` tries.
Logs name the delivery and the error's type, never an address or a text.
"""

from __future__ import annotations

import json
import logging
import smtplib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from passcore.errors import CheckpassError
from server import background
from server.config import Settings
from server.keyring import datakeys
from server.notices import mail, webhooks
from server.notices.models import (
    CHANNEL_EMAIL,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    NoticeConfig,
    NoticeDelivery,
)
from server.notices.service import SEALED_PARAMS, open_params, render, secret_context

__all__ = ["Report", "claim", "lifespan", "send_due"]

logger = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)  # a claimed row not finished by then (its sender died) is claimed again
MAX_BACKOFF = timedelta(hours=6)
BATCH = 50
FIRST_ROUND_DELAY = 1.0


@dataclass
class Report:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "retried": self.retried, "failed": self.failed}


def _claimable(now: datetime) -> Any:
    return or_(
        and_(col(NoticeDelivery.state) == PENDING, col(NoticeDelivery.next_try_at) <= now),
        and_(col(NoticeDelivery.state) == SENDING, col(NoticeDelivery.lease_until) < now),
    )


def claim(session: Session, now: datetime, limit: int = BATCH) -> list[int]:
    """Claim up to ``limit`` due deliveries for this sender (committed); their ids."""
    query = (
        select(NoticeDelivery.id)
        .where(_claimable(now))
        .order_by(col(NoticeDelivery.next_try_at), col(NoticeDelivery.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    candidates = [i for i in session.exec(query).all() if i is not None]
    claimed = []
    for delivery_id in candidates:
        result = session.execute(
            update(NoticeDelivery)
            .where(col(NoticeDelivery.id) == delivery_id, _claimable(now))
            .values(state=SENDING, lease_until=now + LEASE)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(delivery_id)
    session.commit()
    return claimed


def _absolute(settings: Settings, link: str) -> str:
    return settings.public_url.rstrip("/") + link if link and settings.public_url else link


def _email(settings: Settings, delivery: NoticeDelivery, params: dict[str, str]) -> None:
    if not mail.configured(settings):
        raise _Permanent("no SMTP server is configured (CHECKPASS_SMTP_HOST)")
    subject, body = render(delivery.kind, params, delivery.lang)
    link = _absolute(settings, delivery.link)
    mail.send(settings, delivery.target, subject, body + (f"\n\n{link}\n" if link else "\n"))


def _webhook(session: Session, settings: Settings, delivery: NoticeDelivery, params: dict[str, str]) -> int:
    config = session.get(NoticeConfig, delivery.enterprise_uscc) if delivery.enterprise_uscc else None
    if config is None or not config.webhook_secret_sealed:
        raise _Permanent("the enterprise has no webhook secret any more")
    secret = datakeys.of(session).open(config.webhook_secret_sealed, secret_context(config.enterprise_uscc))
    texts = {lang: render(delivery.kind, params, lang) for lang in ("zh", "en")}
    payload = {
        "id": delivery.id,
        "kind": delivery.kind,
        "created_at": delivery.created_at.astimezone(UTC).isoformat(),
        "enterprise_uscc": delivery.enterprise_uscc,
        "params": params,
        "link": _absolute(settings, delivery.link),
        "subject": {lang: text[0] for lang, text in texts.items()},
        "text": {lang: text[1] for lang, text in texts.items()},
    }
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "checkpass-notices/1",
        "X-Checkpass-Event": delivery.kind,
        "X-Checkpass-Delivery": str(delivery.id),
        webhooks.SIGNATURE_HEADER: webhooks.sign(secret, int(time.time()), body),
    }
    return webhooks.post(
        delivery.target,
        body,
        headers,
        timeout=settings.webhook_timeout_seconds,
        allow_private=settings.webhook_allow_private,
    )


class _Permanent(Exception):
    """A delivery that no retry can make work (no SMTP server, no secret): failed at once."""


class _HttpStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try."""
    return min(timedelta(seconds=settings.notice_retry_seconds * 2 ** (attempts - 1)), MAX_BACKOFF)


def _send_one(
    engine: Engine, settings: Settings, delivery_id: int, report: Report, at: datetime | None = None
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        delivery = session.get(NoticeDelivery, delivery_id)
        if delivery is None or delivery.state != SENDING:
            return
        status: int | None = None
        error = ""
        permanent = False
        try:
            params = open_params(session, delivery)
            if delivery.channel == CHANNEL_EMAIL:
                _email(settings, delivery, params)
            else:
                status = _webhook(session, settings, delivery, params)
                if not 200 <= status < 300:
                    raise _HttpStatus(status)
        except _Permanent as err:
            error, permanent = str(err), True
        except _HttpStatus as err:
            error = str(err)
        except smtplib.SMTPResponseException as err:
            status, error = err.smtp_code, f"SMTP {err.smtp_code}"
            permanent = (
                500 <= err.smtp_code < 600
            )  # a permanent refusal (no such mailbox): retrying changes nothing
        except (OSError, smtplib.SMTPException, CheckpassError) as err:
            # CheckpassError: the URL no longer passes the check (InputError), or the secret does not open.
            error = f"{type(err).__name__}: {err}"[:300]
        except Exception as err:  # anything else still ends this try: a row must never stay claimed for ever
            error = f"{type(err).__name__}"
        session.rollback()  # nothing of the reads above stays open while the outcome is written
        delivery = session.get(NoticeDelivery, delivery_id)
        if delivery is None:
            return
        now = at or datetime.now(UTC)  # after the call: it may have taken its whole timeout
        delivery.attempts += 1
        delivery.status_code = status
        delivery.lease_until = None
        if not error:
            delivery.state, delivery.sent_at, delivery.last_error = SENT, now, ""
            if delivery.params.startswith(SEALED_PARAMS):
                delivery.params = "{}"  # a reset link is only needed until it is sent
            report.sent += 1
        elif permanent or delivery.attempts >= settings.notice_max_attempts:
            delivery.state, delivery.last_error = FAILED, error[:300]
            report.failed += 1
            logger.warning("notice delivery %s failed for good: %s", delivery_id, error.split(":")[0])
        else:
            delivery.state, delivery.last_error = PENDING, error[:300]
            delivery.next_try_at = now + backoff(settings, delivery.attempts)
            report.retried += 1
            logger.info("notice delivery %s will be retried: %s", delivery_id, error.split(":")[0])
        report.ids.append(delivery_id)
        session.add(delivery)
        session.commit()


def send_due(engine: Engine, settings: Settings, now: datetime | None = None) -> Report:
    """Claim and send what is due at ``now`` (default: the clock, read again after each call), batch after batch
    until nothing is left; a given ``now`` also dates the outcomes (sent, next try)."""
    report = Report()
    while True:
        with Session(engine) as session:
            claimed = claim(session, now or datetime.now(UTC))
        for delivery_id in claimed:
            _send_one(engine, settings, delivery_id, report, now)
        if len(claimed) < BATCH:
            return report


def _round(engine: Engine, settings: Settings) -> None:
    try:
        report = send_due(engine, settings)
    except Exception as err:  # the serving app must outlive a failing round (the database away, say)
        logger.error("notice sender round failed: %s", type(err).__name__)
    else:
        if report.ids:
            logger.info("notices: %s", report.to_dict())


lifespan = background.periodic(
    "checkpass-notices",
    enabled=lambda settings: settings.notices_schedule,
    run=_round,
    interval_seconds=lambda settings: settings.notices_interval_seconds,
    first_delay=FIRST_ROUND_DELAY,
)
