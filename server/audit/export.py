"""CSV exports: the filtered crossings (streamed, any size), the daily summary per checkpoint and a bus's roll.

Both are UTF-8 with a byte-order mark, so Excel opens the Chinese correctly, and every cell that a spreadsheet
would take for a formula (it starts with = + - @, a tab or a carriage return) is prefixed with an apostrophe: names
and enterprise names come from outside the bureau and must not run as formulas on an auditor's machine.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import Response, StreamingResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session

from passcore.reasons import OUTCOMES, outcome_words
from server.audit import export_extras as extras
from server.audit import queries
from server.audit.buses import BusView
from server.audit.filters import CrossingFilter
from server.audit.queries import Row
from server.audit.stats import DailyRow
from server.web.i18n import translate

__all__ = [
    "BOM",
    "CSV_MEDIA",
    "crossing_header",
    "crossings_csv",
    "crossings_response",
    "daily_csv",
    "filename",
    "neutralise",
    "passengers_csv",
    "text_response",
]

BOM = "\ufeff"
CSV_MEDIA = "text/csv; charset=utf-8"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
Translate = Callable[..., str]


def neutralise(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _line(cells: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([neutralise(cell) for cell in cells])
    return buffer.getvalue()


def _plate(plate: str) -> str:
    # Stored plates are already normalised (苏EA1234): only the display dot is added.
    return f"{plate[:2]}·{plate[2:]}" if len(plate) > 2 else plate


# The columns before and after the people's (``export_extras.people_header``) and the escort request's times.
HEAD_COLUMNS = (
    "time",
    "checkpoint",
    "plate",
    "outcome_code",
    "outcome",
    "reasons",
    "pass_serial",
    "enterprise_uscc",
    "enterprise",
)
ESCORT_COLUMNS = ("escort_requested", "escort_answered", "escort_handed_over")
TAIL_COLUMNS = (
    "policy_version",
    "bundle_version",
    "officer",
    "device_name",
    "device",
    "seq",
    "crossing_id",
)


def crossing_header(lang: str) -> list[str]:
    def t(key: str, **values: Any) -> str:
        return translate(key, lang, **values)

    return [
        *(t(f"audit.csv.{name}") for name in HEAD_COLUMNS),
        *extras.people_header(t),
        *(t(f"audit.csv.{name}") for name in ESCORT_COLUMNS),
        *(t(f"audit.csv.{name}") for name in extras.BUS_COLUMNS),
        *(t(f"audit.csv.{name}") for name in TAIL_COLUMNS),
    ]


def _crossing_cells(row: Row, extra: extras.Extra, zone: ZoneInfo, lang: str, health: bool) -> list[Any]:
    """``health=False`` is an enterprise's export: no temperatures, and neither the officer nor the device's name
    (bureau staff and equipment)."""
    crossing = row.crossing

    def moment(value: datetime | None) -> str:
        return value.astimezone(zone).isoformat(timespec="seconds") if value else ""

    def t(key: str, **values: Any) -> str:
        return translate(key, lang, **values)

    return [
        moment(crossing.decided_at),
        row.checkpoint_name,
        _plate(crossing.plate),
        crossing.outcome,
        outcome_words(crossing.outcome, lang),
        " ".join(row.reasons),
        # The printed number people quote (320583-000003); a pass this server never issued keeps its own id.
        extra.serial or crossing.pass_id or "",
        crossing.enterprise_uscc or "",
        row.enterprise_name or "",
        *extras.people_cells(row.occupants, extra.masked, t, health=health),
        *extras.escort_times(extra, moment),
        *extras.bus_cells(row, extra, t),
        crossing.policy_version,
        crossing.bundle_version,
        (crossing.officer or "") if health else "",
        row.device_name if health else "",
        crossing.device_id,
        crossing.seq,
        crossing.id,
    ]


def crossings_csv(
    engine: Engine, f: CrossingFilter, *, zone: str, lang: str, health: bool = True
) -> Iterator[bytes]:
    """The filtered crossings as CSV, newest first, produced a chunk at a time (``health=False``: without
    temperatures).

    It opens its own session: the response is written after the route has returned and its session is closed.
    """
    local = ZoneInfo(zone)
    yield (BOM + _line(crossing_header(lang))).encode()
    with Session(engine) as session:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for rows in queries.batches(session, f, chunk=500):
            added = extras.extras(session, rows)
            for row in rows:
                cells = _crossing_cells(row, added[row.crossing.id], local, lang, health)
                writer.writerow([neutralise(cell) for cell in cells])
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()


def daily_csv(rows: list[DailyRow], names: dict[int, str], t: Translate) -> str:
    header = [
        t("audit.csv.day"),
        t("audit.csv.checkpoint"),
        t("audit.csv.total"),
        *(t("audit.outcome." + outcome) for outcome in OUTCOMES),
        t("audit.csv.escorts"),
        t("audit.csv.escorts_over"),
    ]
    lines = [BOM + _line(header)]
    for row in rows:
        lines.append(
            _line(
                [
                    row.day,
                    names.get(row.checkpoint_id, f"#{row.checkpoint_id}"),
                    row.total,
                    *(row.counts[outcome] for outcome in OUTCOMES),
                    row.escorts,
                    row.escorts_over,
                ]
            )
        )
    return "".join(lines)


PASSENGER_COLUMNS = (
    "passenger_no",
    "passenger_name",
    "passenger_id",
    "passenger_origin",
    "passenger_travel",
    "passenger_aboard",
    "passenger_temperature",
    "passenger_disposition",
    "passenger_hard_hit",
)


def passengers_csv(bus: BusView, t: Translate) -> str:
    """A bus's roll, one passenger a line in manifest order: ID numbers masked as the manifest prints them, the
    typed reading only (blank: measured normal, or not aboard), the disposition's code. Built from a ``BusView``
    read for its reader, so what that reader may not see (``health=False``) is blank here too."""
    lines = [BOM + _line(t(f"audit.csv.{name}") for name in PASSENGER_COLUMNS)]
    for p in bus.passengers:
        cells = [
            p.number,
            p.name,
            p.id_masked,
            p.origin or "",
            " ".join(p.travel_history),
            t("audit.csv.yes") if p.aboard else t("audit.csv.no"),
            "" if p.temperature_c is None else p.temperature_c,
            p.disposition or "",
            p.hard_hit or "",
        ]
        lines.append(_line(cells))
    return "".join(lines)


def filename(prefix: str, now: datetime, zone: str) -> str:
    return f"{prefix}-{now.astimezone(ZoneInfo(zone)).strftime('%Y%m%d-%H%M')}.csv"


def _headers(name: str) -> dict[str, str]:
    # Names and temperatures: no shared cache may keep them.
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"}


def crossings_response(
    engine: Engine,
    f: CrossingFilter,
    zone: str,
    lang: str,
    prefix: str,
    now: datetime,
    *,
    health: bool = True,
) -> StreamingResponse:
    return StreamingResponse(
        crossings_csv(engine, f, zone=zone, lang=lang, health=health),
        media_type=CSV_MEDIA,
        headers=_headers(filename(prefix, now, zone)),
    )


def text_response(text: str, name: str) -> Response:
    return Response(text.encode(), media_type=CSV_MEDIA, headers=_headers(name))
