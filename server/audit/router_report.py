"""The daily report from the portal: /audit/report.pdf?day=2026-12-04, for auditors and admins (not reviewers:
the report is the audit's, like the command ``checkpass report daily``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from server import pdf_font
from server.accounts.models import ROLE_ADMIN, ROLE_AUDITOR
from server.audit import report, report_pdf
from server.audit.deps import ReadSessionDep
from server.deps import ClockDep, SettingsDep, require

__all__ = ["web"]

web = APIRouter(include_in_schema=False, dependencies=[Depends(require(ROLE_AUDITOR, ROLE_ADMIN))])
PDF_MEDIA = "application/pdf"


@web.get("/audit/report.pdf", response_class=Response, responses={200: {"content": {PDF_MEDIA: {}}}})
def daily_report(
    session: ReadSessionDep,
    settings: SettingsDep,
    now: ClockDep,
    day: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    wanted = report.parse_day(day)
    found = report.gather(session, day=wanted, zone=settings.timezone, now=now)
    pdf_font.font_name()  # registered at start (create_app); named here so a script's app registers it too
    name = f"daily-report-{wanted.isoformat()}.pdf"
    return Response(
        report_pdf.render(found),
        media_type=PDF_MEDIA,
        # Counts only, but the bureau's internal figures: no shared cache keeps them.
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )
