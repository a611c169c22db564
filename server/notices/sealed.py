"""What the notices seal with the installation's data key, for a data-key rotation (server.keyring.service):
the enterprises' webhook secrets and the parameters of unsent password-reset e-mails. Without this a rotation
would retire a key these values still need, and webhooks could no longer be signed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, func, select

from server.keyring import datakeys
from server.notices.models import NoticeConfig, NoticeDelivery
from server.notices.service import PARAMS_CONTEXT, SEALED_PARAMS, secret_context

__all__ = ["left", "reseal"]


def _stale(column: Any, active: str) -> ColumnElement[bool]:
    return col(column).like(f"{SEALED_PARAMS}%") & ~col(column).like(f"{datakeys.VERSION}:{active}:%")


def reseal(session: Session) -> int:
    """Re-seal every value sealed under a key other than the active one (not committed); how many."""
    keys = datakeys.of(session)
    active = keys.active_kid() or ""
    done = 0
    for config in session.exec(
        select(NoticeConfig).where(_stale(NoticeConfig.webhook_secret_sealed, active))
    ):
        context = secret_context(config.enterprise_uscc)
        config.webhook_secret_sealed = keys.seal(keys.open(config.webhook_secret_sealed, context), context)
        session.add(config)
        done += 1
    for delivery in session.exec(select(NoticeDelivery).where(_stale(NoticeDelivery.params, active))):
        delivery.params = keys.seal(keys.open(delivery.params, PARAMS_CONTEXT), PARAMS_CONTEXT)
        session.add(delivery)
        done += 1
    session.flush()
    return done


def left(session: Session, kid: str) -> int:
    """How many of these values still depend on data key ``kid``."""
    prefix = f"{datakeys.VERSION}:{kid}:%"
    secrets = session.exec(
        select(func.count())
        .select_from(NoticeConfig)
        .where(col(NoticeConfig.webhook_secret_sealed).like(prefix))
    ).one()
    params = session.exec(
        select(func.count()).select_from(NoticeDelivery).where(col(NoticeDelivery.params).like(prefix))
    ).one()
    return int(secrets) + int(params)
