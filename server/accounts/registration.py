"""Enterprise self-registration: a new enterprise and its first user, verified later by an administrator.

The answer does not tell whether the username or the enterprise was already registered: a taken name and a new
one get the same page, in the same time (the password is hashed either way), so registration cannot be used to
find out which accounts exist. A real user whose name was taken finds out when signing in with it fails, and the
page tells them what to do then (another username, or the colleague or bureau who knows the enterprise's account).
Registrations are throttled per address (``throttle.begin_registration``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from passcore import ids
from passcore.errors import InputError
from server import pdf_font
from server.accounts import throttle
from server.accounts.models import ROLE_ENTERPRISE, User
from server.accounts.passwords import check_new_password
from server.accounts.service import create_user, hash_password, normalise_username
from server.config import Settings
from server.enterprises.models import Enterprise
from server.errors import BadRequest
from server.regions import table as regions

__all__ = ["register_enterprise"]


def _field_errors(name: str, uscc: str, contact: str, phone: str, region: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    if not 2 <= len(name.strip()) <= 100:
        fields["name"] = "enterprise_name_invalid"
    elif not ids.usable_text(name):
        fields["name"] = "text_invalid"
    elif pdf_font.unrenderable(name):  # the name is printed on every pass of the enterprise
        fields["name"] = "name_unprintable"
    try:
        ids.validate_uscc(uscc)
    except InputError:
        fields["uscc"] = "uscc_invalid"
    try:
        regions.check_exists(region)  # new input: only codes in the current table (server/regions)
    except InputError as err:
        fields["region"] = err.code.lower()
    if not contact.strip() or len(contact) > 50:
        fields["contact"] = "contact_invalid"
    elif not ids.usable_text(contact):
        fields["contact"] = "text_invalid"
    if not phone.strip() or len(phone) > 30 or not all(ch.isdigit() or ch in "+- " for ch in phone.strip()):
        fields["phone"] = "phone_invalid"
    return fields


def register_enterprise(
    *,
    session: Session,
    name: str,
    uscc: str,
    contact: str,
    phone: str,
    region: str,
    username: str,
    password: str,
    client: str,
    settings: Settings,
    now: datetime,
    lang: str = "zh",
) -> Enterprise | None:
    """The new, unverified enterprise, or None when its credit code or the username was already registered
    (nothing is changed then). Callers answer both alike."""
    fields = _field_errors(name, uscc, contact, phone, region)
    for check, value in ((normalise_username, username), (check_new_password, password)):
        try:
            check(value)
        except BadRequest as err:
            fields |= err.fields
    if fields:
        raise BadRequest("please correct the marked fields", code="REGISTRATION_INVALID", fields=fields)
    throttle.begin_registration(session=session, client=client, settings=settings, now=now)
    stored = hash_password(password)  # whether or not the name is taken, so that both take as long
    uscc = ids.validate_uscc(uscc)
    taken = session.exec(select(User.id).where(User.username == normalise_username(username))).first()
    if taken is not None or session.get(Enterprise, uscc) is not None:
        return None
    enterprise = Enterprise(
        uscc=uscc,
        name=name.strip(),
        contact=contact.strip(),
        phone=phone.strip(),
        region=ids.validate_region(region),
        verified=False,
        created_at=now,
    )
    try:
        session.add(enterprise)
        session.flush()
        create_user(
            session=session,
            username=username,
            password=password,
            password_hash=stored,
            role=ROLE_ENTERPRISE,
            enterprise_uscc=uscc,
            display_name=contact,
            now=now,
            lang=lang,
        )
        session.commit()
    except IntegrityError:
        session.rollback()  # registered at the same moment by someone else: as if it had been there before
        return None
    return enterprise
