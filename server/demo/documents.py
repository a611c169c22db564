"""Demo documents: licences on the demo queue's first application, and an enterprise waiting for verification
with its business licence, so that the administrator can try verifying by the licence. The images are drawn
here (no one's real papers)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from PIL import Image, ImageDraw
from sqlmodel import Session, col, select

from server.applications.models import SUBMITTED, Application
from server.documents import service as documents
from server.documents.models import BUSINESS_LICENCE, DRIVING_LICENCE, VEHICLE_LICENCE
from server.enterprises.models import Enterprise

__all__ = ["WAITING_USCC", "seed_documents"]

WAITING_USCC = "91320505MA1DKC0B15"  # 苏州示例物流有限公司: registered, waiting for the administrator
_LIMIT = 5 * 1024 * 1024


def _card(title: str, lines: tuple[str, ...], colour: tuple[int, int, int]) -> bytes:
    """A licence-shaped specimen: a coloured card with a few lines of ASCII (the default font has no CJK)."""
    image = Image.new("RGB", (640, 420), (250, 250, 246))
    draw = ImageDraw.Draw(image)
    draw.rectangle((12, 12, 627, 407), outline=colour, width=6)
    draw.rectangle((12, 12, 627, 72), fill=colour)
    draw.text((32, 32), title, fill=(255, 255, 255))
    for number, line in enumerate(lines):
        draw.text((40, 110 + 36 * number), line, fill=(40, 40, 40))
    draw.text((420, 360), "SPECIMEN / DEMO", fill=(190, 30, 30))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def seed_documents(*, session: Session, now: datetime) -> None:
    """Add the demo documents (idempotent: an enterprise or application that has them is left alone)."""
    first = session.exec(
        select(Application)
        .where(col(Application.status) == SUBMITTED, col(Application.plate).contains("C5678"))
        .order_by(col(Application.id))
    ).first()
    if first is not None and not documents.for_application(session, first.id or 0):
        for kind, title, colour in (
            (VEHICLE_LICENCE, "Vehicle licence (demo)", (30, 90, 160)),
            (DRIVING_LICENCE, "Driving licence (demo)", (30, 120, 60)),
        ):
            documents.add(
                session=session,
                kind=kind,
                data=_card(title, (f"Plate: {first.plate}", "Valid: 2030-12-31"), colour),
                filename=f"{kind}.png",
                enterprise_uscc=first.enterprise_uscc,
                application_id=first.id,
                user=None,
                now=now,
                max_bytes=_LIMIT,
            )
    if session.get(Enterprise, WAITING_USCC) is None:
        session.add(
            Enterprise(
                uscc=WAITING_USCC,
                name="苏州示例物流有限公司",
                contact="吴经理",
                phone="0512-6666 0000",
                region="320505",
                verified=False,
                created_at=now - timedelta(hours=2),
            )
        )
        session.flush()
        documents.add(
            session=session,
            kind=BUSINESS_LICENCE,
            data=_card(
                "Business licence (demo)",
                (f"Credit code: {WAITING_USCC}", "Suzhou demo logistics"),
                (160, 30, 30),
            ),
            filename="营业执照.png",
            enterprise_uscc=WAITING_USCC,
            user=None,
            now=now,
            max_bytes=_LIMIT,
        )
    session.flush()
