"""The printable card of a pass and its delivery files (PNG, SVG, PDF), built the same way by the CLI and the portal.

The portal keeps no files: it renders them on request from the stored QR text, so a pass always comes out
exactly as signed, and nothing on disk needs cleaning up when a pass is revoked or purged.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from passcore import ids, wire
from passcore.claims import PLATE_COLOUR_NAMES_ZH, PassClaims
from server.applications.schemas import ApplicationCreate
from server.config import Settings
from server.passes import render
from server.passes.models import IssuedPass

__all__ = ["FORMATS", "DeliveryFile", "Format", "card_for", "card_for_record", "claims_of", "render_file"]

Format = Literal["png", "svg", "pdf"]
FORMATS: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}


@dataclass(frozen=True)
class DeliveryFile:
    content: bytes
    media_type: str
    filename: str  # pass-<serial>.<ext>: what people call the pass on the phone and on paper


def _card(
    claims: PassClaims, enterprise_name: str, cargo: str, settings: Settings, hotline: str = ""
) -> render.PassCard:
    zone = ZoneInfo(settings.timezone)

    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    route = " → ".join(ids.region_name(code) for code in (claims.origin, claims.destination))
    return render.PassCard(
        serial=claims.serial,
        pass_id=claims.pass_id,
        plate=ids.format_plate(claims.plate),
        plate_colour=f"{PLATE_COLOUR_NAMES_ZH[claims.plate_colour]} {claims.plate_colour}",
        enterprise=enterprise_name,
        driver=f"{claims.driver.name}  {claims.driver.id_masked}",
        escorts=tuple(f"{p.name}  {p.id_masked}" for p in claims.escorts),
        route=route,
        cargo=cargo,
        valid_from=local(claims.valid_from),
        valid_until=local(claims.valid_until),
        issuer=settings.issuer_name,
        hotline=hotline,
    )


def card_for(
    claims: PassClaims, application: ApplicationCreate, settings: Settings, *, hotline: str = ""
) -> render.PassCard:
    """The card of a pass just signed from ``application`` (`checkpass issue`, the demo)."""
    return _card(claims, application.enterprise.name, application.cargo, settings, hotline)


def claims_of(record: IssuedPass) -> PassClaims:
    """The claims exactly as the QR carries them (the stored readable copy is for display only)."""
    return wire.read_claims(wire.decode(record.qr_text).payload)


def card_for_record(record: IssuedPass, settings: Settings, *, hotline: str = "") -> render.PassCard:
    # Only two display strings come from the application; reading them as plain JSON keeps an old pass
    # printable even if the application schema's validation has become stricter since it was issued.
    application = json.loads(record.application_json)
    enterprise = application.get("enterprise") or {}
    return _card(
        claims_of(record),
        str(enterprise.get("name", "")),
        str(application.get("cargo", "")),
        settings,
        hotline,
    )


def render_file(
    record: IssuedPass, kind: Format, settings: Settings, *, page: str = "A5", hotline: str = ""
) -> DeliveryFile:
    """One delivery file of a stored pass, rendered now (about 20-30 ms); the PDF prints ``hotline``, the
    service centre's phone in force now, not the one when the pass was issued."""
    if kind not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    # render writes files (the CLI's use); a private temporary folder keeps that code the only renderer.
    with tempfile.TemporaryDirectory(prefix="checkpass-pass-") as tmp:
        path = Path(tmp) / f"pass.{kind}"
        if kind == "png":
            render.write_png(record.qr_text, path)
        elif kind == "svg":
            render.write_svg(record.qr_text, path)
        else:
            card = card_for_record(record, settings, hotline=hotline)
            render.write_pdf(record.qr_text, card, path, page=page)
        content = path.read_bytes()
    return DeliveryFile(content, FORMATS[kind], f"pass-{record.serial}.{kind}")
