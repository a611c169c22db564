"""Per-device hash-chain verification over the stored crossings: on ingest (the records around a batch) and on
demand (every device, from its first record), reporting the first bad record.

A record is bad when its body was edited after it was stored (``sha256(body_json) != record_hash``; not checkable
once retention purged the body, whose links still are), when records before it are missing (a gap), or when its
``prev_hash`` is not the previous record's hash (a broken link).

A device's chain starts at seq 1 from 64 zeros, or continues another device's: a laptop enrolled again (its
credential revoked, or moved to another checkpoint) is a new device that keeps its own chain going. Its first
record then links to the other device's record just before it, which must be that device's last: a chain that
forks (the other device went on too, e.g. a copied laptop) is not a continuation, and its start is a gap.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from passcore.chain import GENESIS
from server.alerts import rules
from server.checkpoints.models import Device
from server.crossings.models import Crossing
from server.db import is_in

__all__ = ["ChainReport", "check_around", "continued_from", "verify_all", "verify_device"]

STREAM_ROWS = 2000


@dataclass(frozen=True)
class ChainReport:
    device_id: str
    checkpoint_id: int
    checked: int  # records walked (up to and including the first bad one)
    problem: rules.ChainProblem | None
    continues: str | None = None  # the device whose chain this one continues (the laptop enrolled again)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        problem = self.problem
        return {
            "device_id": self.device_id,
            "checkpoint_id": self.checkpoint_id,
            "records_checked": self.checked,
            "ok": self.ok,
            "continues_device": self.continues,
            "first_bad": None
            if problem is None
            else {
                "problem": problem.problem,
                "seq": problem.seq,
                "crossing_id": problem.crossing_id,
                "missing": list(problem.missing) if problem.missing else None,
            },
        }


_COLUMNS = (
    Crossing.seq,
    Crossing.id,
    Crossing.prev_hash,
    Crossing.record_hash,
    Crossing.body_json,
    Crossing.purged_at,
)


def _link(row: Any) -> rules.ChainLink:
    seq, crossing_id, prev_hash, record_hash, body, purged_at = row
    return rules.ChainLink(seq, crossing_id, prev_hash, record_hash, None if purged_at is not None else body)


def _stream(session: Session, device_id: str) -> Iterator[rules.ChainLink]:
    query = (
        select(*_COLUMNS)  # type: ignore[call-overload]  # sqlmodel types select() for at most 4 columns
        .where(Crossing.device_id == device_id)
        .order_by(col(Crossing.seq))
        .execution_options(yield_per=STREAM_ROWS)
    )
    for row in session.exec(query):
        yield _link(row)


def continued_from(session: Session, device_id: str, first: rules.ChainLink) -> str | None:
    """The device whose chain ``first`` (a device's first stored record) continues, if it links to another
    device's last record (see the module's docstring)."""
    if first.seq <= 1:
        return None
    query = select(Crossing.device_id).where(
        Crossing.seq == first.seq - 1,
        Crossing.record_hash == first.prev_hash,
        Crossing.device_id != device_id,
    )
    for other in session.exec(query):
        went_on = select(Crossing.id).where(Crossing.device_id == other, Crossing.seq >= first.seq).limit(1)
        if session.exec(went_on).first() is None:
            return str(other)
    return None


def verify_device(session: Session, device: Device) -> ChainReport:
    links = _stream(session, device.id)
    first = next(links, None)
    if first is None:
        return ChainReport(device.id, device.checkpoint_id, 0, None)
    continues = continued_from(session, device.id, first)
    start = (first.seq, first.prev_hash) if continues else (1, GENESIS)
    checked, problem = rules.first_problem(
        itertools.chain([first], links), expect_seq=start[0], expect_prev=start[1]
    )
    return ChainReport(device.id, device.checkpoint_id, checked, problem, continues)


def verify_all(session: Session, devices: Iterable[Device] | None = None) -> list[ChainReport]:
    if devices is None:
        devices = session.exec(select(Device).order_by(col(Device.enrolled_at), col(Device.id))).all()
    return [verify_device(session, device) for device in devices]


def _runs(links: list[rules.ChainLink]) -> list[list[rules.ChainLink]]:
    """Consecutive seqs together."""
    runs: list[list[rules.ChainLink]] = []
    for link in links:
        if runs and runs[-1][-1].seq + 1 == link.seq:
            runs[-1].append(link)
        else:
            runs.append([link])
    return runs


def _last_below(session: Session, device_id: str, seq: int) -> int:
    query = select(func.max(Crossing.seq)).where(Crossing.device_id == device_id, Crossing.seq < seq)
    return int(session.exec(query).one() or 0)


def check_around(
    session: Session, device: Device, new_seqs: set[int], at: datetime
) -> tuple[list[rules.Finding], list[str]]:
    """Check records just stored against their stored neighbours.

    Returns the findings, and the dedupe keys of gap alerts that these records have filled. The device's
    outbox uploads oldest first, so a record whose predecessor never arrived opens a gap; records may still
    arrive out of order, which is why a later upload that fills it closes that alert again.
    """
    wanted = {s + d for s in new_seqs for d in (-1, 0, 1) if s + d >= 1}
    query = select(*_COLUMNS).where(  # type: ignore[call-overload]  # typed for at most 4 columns
        Crossing.device_id == device.id, is_in(session, col(Crossing.seq), wanted)
    )
    links = [_link(row) for row in session.exec(query.order_by(col(Crossing.seq)))]
    findings: list[rules.Finding] = []
    healed: list[str] = []
    for run in _runs(links):
        head = run[0]
        expect_prev: str | None = None  # a stored neighbour is the anchor: it was checked when it came
        if head.seq in new_seqs and head.seq == 1:
            expect_prev = GENESIS
        elif head.seq in new_seqs:
            below = _last_below(session, device.id, head.seq)
            if below == 0 and continued_from(session, device.id, head) is not None:
                expect_prev = head.prev_hash  # linked to the other device's last record: checked just now
            else:
                gap = rules.ChainProblem(rules.GAP, head.seq, head.crossing_id, (below + 1, head.seq - 1))
                findings.append(rules.chain_finding(device.id, device.checkpoint_id, gap, at))
        _, problem = rules.first_problem(run, expect_seq=head.seq, expect_prev=expect_prev)
        if problem is not None:
            findings.append(rules.chain_finding(device.id, device.checkpoint_id, problem, at))
        # Only a record stored before its predecessor can have had a gap alert.
        healed += [
            f"{rules.CHAIN_GAP}:{device.id}:{link.seq}"
            for link in run[1:]
            if link.seq - 1 in new_seqs and link.seq not in new_seqs
        ]
    return findings, healed
