"""A shift's paper trail: its tally by outcome and its log, as CSV (UTF-8 with a BOM, so Excel reads the Chinese)
and as a printable A4 PDF (``shift_pdf``).

The log holds what an officer's paper register holds: time, plate, outcome, reasons, officer, and the escorted
vehicles handed over. Never a name of a person aboard, a temperature or any part of an ID number.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from checkpoint_client.store import Store
from checkpoint_client.store_officers import ShiftRow
from passcore import ids, reasons
from passcore.errors import InputError

__all__ = ["Entry", "ShiftReport", "build", "to_csv"]

HANDED_OVER = "HANDED_OVER"  # the log's kind for an escort hand-over (not an outcome of the rules)
_WORDS = {
    "title": {"zh": "执勤班次记录", "en": "Shift record"},
    "checkpoint": {"zh": "卡口", "en": "Checkpoint"},
    "device": {"zh": "设备", "en": "Device"},
    "officer": {"zh": "执勤人员", "en": "Officer"},
    "from": {"zh": "开始", "en": "From"},
    "until": {"zh": "结束", "en": "Until"},
    "running": {"zh": "（班次进行中）", "en": "(shift still running)"},
    "generated": {"zh": "生成时间", "en": "Generated"},
    "tally": {"zh": "统计", "en": "Tally"},
    "total": {"zh": "合计", "en": "Total"},
    "handovers": {"zh": "交接护送车辆", "en": "Escorts handed over"},
    "log": {"zh": "记录", "en": "Log"},
    "time": {"zh": "时间", "en": "Time"},
    "plate": {"zh": "车牌", "en": "Plate"},
    "outcome": {"zh": "结果", "en": "Outcome"},
    "reasons": {"zh": "原因", "en": "Reasons"},
    "handed_over": {"zh": "已交接护送", "en": "Escort handed over"},
    "handed_to": {"zh": "交接给 {name}", "en": "handed over to {name}"},
    "none": {"zh": "本班次没有记录。", "en": "Nothing recorded in this shift."},
    "signature": {"zh": "执勤人员签名：", "en": "Officer's signature:"},
}


def words(key: str, lang: str, **values: str) -> str:
    text = _WORDS[key].get(lang) or _WORDS[key]["zh"]
    return text.format(**values) if values else text


@dataclass(frozen=True)
class Entry:
    at: datetime
    plate: str
    kind: str  # an outcome code, or HANDED_OVER
    reasons: tuple[str, ...]
    officer: str
    detail: str = ""  # for a hand-over: who took the vehicle


@dataclass(frozen=True)
class ShiftReport:
    shift: ShiftRow
    checkpoint: str
    generated_at: datetime
    zone: str
    entries: list[Entry] = field(default_factory=list)

    def tally(self) -> dict[str, int]:
        """Decisions by outcome, every outcome named (0 included), then the hand-overs."""
        counts = dict.fromkeys((*reasons.OUTCOMES, HANDED_OVER), 0)
        for entry in self.entries:
            counts[entry.kind] = counts.get(entry.kind, 0) + 1
        return counts

    def local(self, moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
        return moment.astimezone(ZoneInfo(self.zone)).strftime(fmt) if moment else ""

    def kind_words(self, kind: str, lang: str) -> str:
        return words("handed_over", lang) if kind == HANDED_OVER else reasons.outcome_words(kind, lang)

    def reason_words(self, entry: Entry, lang: str) -> str:
        if entry.kind == HANDED_OVER:
            return words("handed_to", lang, name=entry.detail) if entry.detail else ""
        shown = [code for code in entry.reasons if code != "PASS_VALID" or len(entry.reasons) == 1]
        return "；".join(reasons.describe(code, lang) for code in shown)


def _plate(plate: str) -> str:
    try:
        return ids.format_plate(plate)
    except InputError:  # a plate the store holds is shown as it is
        return plate


def build(store: Store, shift: ShiftRow, *, checkpoint: str, now: datetime, zone: str) -> ShiftReport:
    """The shift's report from the local store: the decisions recorded on this device during the shift (by its
    officer, when the record names one) and the hand-overs recorded then."""
    entries = []
    for text in store.officers.decisions_between(shift.started_at, shift.ended_at):
        record = json.loads(text)
        officer = record.get("officer")
        if officer not in (None, shift.officer):
            continue
        entries.append(
            Entry(
                at=datetime.fromisoformat(record["decided_at"]),
                plate=_plate(record["plate"]),
                kind=record["outcome"],
                reasons=tuple(record.get("reasons") or ()),
                officer=officer or shift.officer,
            )
        )
    for handover in store.officers.handovers_between(shift.started_at, shift.ended_at):
        if handover["officer"] not in (None, shift.officer):
            continue
        entries.append(
            Entry(
                at=handover["at"],
                plate=_plate(handover["plate"]),
                kind=HANDED_OVER,
                reasons=(),
                officer=handover["officer"] or shift.officer,
                detail=handover["staff_name"] or "",
            )
        )
    entries.sort(key=lambda e: e.at)
    return ShiftReport(shift=shift, checkpoint=checkpoint, generated_at=now, zone=zone, entries=entries)


def _cell(text: str) -> str:
    # A cell starting with = + - @ would run as a formula in a spreadsheet; a plate or staff name must not.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(report: ShiftReport, lang: str = "zh") -> bytes:
    """The shift as CSV: a header block (checkpoint, device, officer, times, tally), then one row per entry."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    shift = report.shift
    writer.writerow([words("title", lang)])
    writer.writerow([words("checkpoint", lang), _cell(report.checkpoint)])
    writer.writerow([words("device", lang), _cell(shift.device)])
    writer.writerow([words("officer", lang), _cell(f"{shift.officer} {shift.name}")])
    writer.writerow([words("from", lang), report.local(shift.started_at)])
    writer.writerow([words("until", lang), report.local(shift.ended_at) or words("running", lang)])
    writer.writerow([words("generated", lang), report.local(report.generated_at)])
    writer.writerow([])
    writer.writerow([words("tally", lang)])
    tally = report.tally()
    for kind, count in tally.items():
        writer.writerow([report.kind_words(kind, lang), count])
    writer.writerow([words("total", lang), sum(v for k, v in tally.items() if k != HANDED_OVER)])
    writer.writerow([])
    writer.writerow([words(k, lang) for k in ("time", "plate", "outcome", "reasons", "officer")] + ["code"])
    for entry in report.entries:
        writer.writerow(
            [
                report.local(entry.at),
                _cell(entry.plate),
                report.kind_words(entry.kind, lang),
                _cell(report.reason_words(entry, lang)),
                _cell(entry.officer),
                entry.kind,
            ]
        )
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
