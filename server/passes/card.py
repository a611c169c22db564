"""The printable card of a pass and its delivery files (PNG, SVG, PDF), built the same way by the CLI and the portal.

The portal keeps no files: it renders them on request from the stored QR text, so a pass always comes out
exactly as signed, and nothing on disk needs cleaning up when a pass is revoked or purged. A bus pass's PDF prints
its manifest pages from their stored signed texts: each page's table is read from the page itself, so the table
beside a QR is always what that QR says.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from passcore import ids, manifest, wire
from passcore.claims import PLATE_COLOUR_NAMES_ZH, PassClaims
from server.applications.schemas import ApplicationCreate
from server.config import Settings
from server.passes import render
from server.passes.models import IssuedPass

__all__ = [
    "FORMATS",
    "DeliveryFile",
    "Format",
    "ManifestFormat",
    "card_for",
    "card_for_record",
    "claims_of",
    "manifest_page_file",
    "manifest_sheets",
    "manifest_text",
    "render_file",
]

Format = Literal["png", "svg", "pdf"]
FORMATS: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
ManifestFormat = Literal["png", "svg", "txt"]


@dataclass(frozen=True)
class DeliveryFile:
    content: bytes
    media_type: str
    filename: str  # pass-<serial>.<ext>: what people call the pass on the phone and on paper


def _sheet(text: str) -> render.ManifestSheet:
    """A stored manifest page as printed: the table is read from the signed page itself (our own text, signed at
    issue; read here, not verified again)."""
    payload = wire.loads_bounded(wire.decode(text, prefix=manifest.PAGE_PREFIX).payload, "the manifest page")
    page = payload[manifest.CLAIM_PAGE]
    first = int(page[manifest.P_FIRST])
    rows = tuple(
        render.ManifestRow(
            number=first + offset,
            name=str(name),
            id_masked=str(masked),
            origin=ids.region_name(f"{int(origin):06d}"),
        )
        for offset, (name, masked, origin, _history) in enumerate(page[manifest.P_PASSENGERS])
    )
    return render.ManifestSheet(text, int(page[manifest.P_NUMBER]), int(page[manifest.P_PAGES]), rows)


def manifest_sheets(texts: list[str] | tuple[str, ...]) -> tuple[render.ManifestSheet, ...]:
    return tuple(_sheet(text) for text in texts)


def _bus_card(claims: PassClaims, bus_body: Any) -> render.BusCard | None:
    """The bus part of the card. The stations are not on the QR (claims read from it have none): they come from
    the application's bus as issued."""
    bus = claims.bus
    if bus is None:
        return None
    body = bus_body if isinstance(bus_body, dict) else {}
    departure = str(body.get("departure") or bus.departure)
    arrival = str(body.get("arrival") or bus.arrival)
    return render.BusCard(
        stations=f"{departure} → {arrival}",
        seats=bus.seats,
        manager=f"{bus.manager.name}  {bus.manager.id_masked}",
        passengers=bus.passengers,
        pages=bus.pages,
    )


def _card(
    claims: PassClaims,
    enterprise_name: str,
    cargo: str,
    settings: Settings,
    hotline: str = "",
    *,
    bus_body: Any = None,
    pages: list[str] | tuple[str, ...] = (),
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
        bus=_bus_card(claims, bus_body),
        manifest=manifest_sheets(pages),
    )


def card_for(
    claims: PassClaims,
    application: ApplicationCreate,
    settings: Settings,
    *,
    hotline: str = "",
    pages: list[str] | tuple[str, ...] = (),
) -> render.PassCard:
    """The card of a pass just signed from ``application`` (`checkpass issue`, the demo), with its manifest
    ``pages`` for a bus."""
    bus = application.bus.model_dump(mode="json") if application.bus is not None else None
    return _card(
        claims, application.enterprise.name, application.cargo, settings, hotline, bus_body=bus, pages=pages
    )


def claims_of(record: IssuedPass) -> PassClaims:
    """The claims exactly as the QR carries them (the stored readable copy is for display only)."""
    return wire.read_claims(wire.decode(record.qr_text).payload)


def card_for_record(
    record: IssuedPass, settings: Settings, *, hotline: str = "", pages: list[str] | tuple[str, ...] = ()
) -> render.PassCard:
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
        bus_body=application.get("bus"),
        pages=pages,
    )


def render_file(
    record: IssuedPass,
    kind: Format,
    settings: Settings,
    *,
    page: str = "A5",
    hotline: str = "",
    pages: list[str] | tuple[str, ...] = (),
) -> DeliveryFile:
    """One delivery file of a stored pass, rendered now (about 20-30 ms); the PDF prints ``hotline``, the
    service centre's phone in force now, not the one when the pass was issued, and a bus's manifest ``pages``
    after the card. The PNG and SVG are the windscreen QR only."""
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
            card = card_for_record(record, settings, hotline=hotline, pages=pages)
            render.write_pdf(record.qr_text, card, path, page=page)
        content = path.read_bytes()
    return DeliveryFile(content, FORMATS[kind], f"pass-{record.serial}.{kind}")


def manifest_text(record: IssuedPass, pages: list[str]) -> DeliveryFile:
    """Every manifest page's signed text, one a line (as `checkpass issue` writes manifest.txt)."""
    content = "".join(text + "\n" for text in pages).encode("ascii")
    return DeliveryFile(content, "text/plain; charset=utf-8", f"manifest-{record.serial}.txt")


def manifest_page_file(
    record: IssuedPass, text: str, number: int, kind: Literal["png", "svg"]
) -> DeliveryFile:
    """One manifest page's QR as PNG or SVG."""
    if kind not in ("png", "svg"):
        raise ValueError("a manifest page is a PNG or an SVG")
    with tempfile.TemporaryDirectory(prefix="checkpass-manifest-") as tmp:
        path = Path(tmp) / f"page.{kind}"
        (render.write_png if kind == "png" else render.write_svg)(text, path)
        content = path.read_bytes()
    return DeliveryFile(content, FORMATS[kind], f"manifest-{record.serial}-{number}.{kind}")
