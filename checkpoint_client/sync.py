"""One sync with the server: upload the outbox, fetch the trust bundle and the escort answers, send hand-overs.

Order matters: decisions go first (they are what must never be lost), then the bundle, then escorts (after the
upload, so requests opened by this very upload come back with their server ids), then hand-overs (which need
those ids). Every step is idempotent, so a sync cut short anywhere — the server killed, the network gone — is
simply run again. ``sync_once`` uses the store through its own per-thread connection, so the screen may call it
from a background thread while it records decisions.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic import Field as PydanticField

from checkpoint_client import retention, truststore
from checkpoint_client.config import Settings
from checkpoint_client.device import load_device
from checkpoint_client.server_api import Api, SyncError, new_client, problem_of
from checkpoint_client.store import Store, StoredCrossing
from checkpoint_client.store_officers import OfficerRow
from passcore import pins
from passcore.errors import BundleError, CheckpassError

__all__ = ["SyncError", "SyncReport", "sync_once"]

SYNCED = ("accepted", "duplicate")
REFUSED = ("conflict", "invalid")
MAX_ESCORT_PAGES = 200  # 100,000 escort requests at 500 a page: more than any checkpoint has waiting


@dataclass
class SyncReport:
    uploaded: int = 0  # records the server stored now
    duplicate: int = 0  # records it already had (an earlier upload whose answer was lost)
    refused: list[dict[str, Any]] = field(default_factory=list)  # conflict/invalid now: id, seq, status, code
    pending: int = 0  # still in the outbox afterwards
    batches: int = 0
    bundle: dict[str, Any] = field(default_factory=dict)  # status updated|unchanged|refused, version, code
    clock_skew: bool = False  # the device clock is earlier than the bundle's issue time
    escorts_received: int = 0
    handovers_sent: int = 0
    handover_errors: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0
    server_time: str | None = None
    # The day's retention purge (checkpoint_client.retention), after a sync that went well.
    purge: dict[str, Any] = field(default_factory=dict)
    # The checkpoint's officers (status updated|unsupported, count), for signing in offline.
    officers: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Result(BaseModel):
    index: int
    id: str | None
    status: Literal["accepted", "duplicate", "conflict", "invalid"]
    code: str | None = None
    detail: str | None = None


class _IngestAnswer(BaseModel):
    results: list[_Result]


class _Handover(BaseModel):
    model_config = ConfigDict(extra="ignore")
    staff_name: str = ""
    staff_id_last4: str = ""
    officer: str | None = None


class _Escort(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int
    crossing_id: str
    plate: str
    status: Literal["open", "answered", "handed_over", "cancelled"]
    requested_at: datetime
    enterprise: dict[str, str] | None
    staff_name: str
    staff_phone: str
    eta: datetime | None
    answered_at: datetime | None
    handed_over_at: datetime | None
    handover: _Handover | None = None  # who took the vehicle over (a server before issue 12 does not say)


class _Officer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    number: str = PydanticField(pattern=pins.NUMBER_PATTERN)
    name: str = PydanticField(max_length=50)
    active: bool
    pin_hash: str = PydanticField(max_length=200)


class _OfficerList(BaseModel):
    model_config = ConfigDict(extra="ignore")
    officers: list[_Officer] = PydanticField(max_length=10_000)


class _EscortList(BaseModel):
    server_time: datetime
    escorts: list[_Escort]
    more: bool = False


def _parse(model: type[BaseModel], response: httpx.Response, what: str) -> Any:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as err:
        raise SyncError(
            f"the server's answer to {what} is not understood", code="SERVER_ANSWER_INVALID"
        ) from err


def _refuse(response: httpx.Response, what: str) -> SyncError:
    code, text = problem_of(response)
    return SyncError(f"the server refused {what}: {text} ({code})", code="SERVER_REFUSED")


def _upload(api: Api, store: Store, settings: Settings, report: SyncReport) -> None:
    # Bounded: records the screen adds meanwhile are sent by the next sync rather than keeping this one going.
    for _ in range(store.pending_count() // settings.sync_batch + 1):
        batch = store.pending(settings.sync_batch)
        if not batch:
            return
        response = api.call("POST", "/api/v1/crossings", json={"records": [c.record for c in batch]})
        if response.status_code != 200:
            raise _refuse(response, f"a batch of {len(batch)} records")
        results = _parse(_IngestAnswer, response, "the upload").results
        _apply_results(store, batch, results, report)
        report.batches += 1


def _apply_results(
    store: Store, batch: list[StoredCrossing], results: list[_Result], report: SyncReport
) -> None:
    synced, refused = [], []
    for result in results:
        if not 0 <= result.index < len(batch) or batch[result.index].id != result.id:
            raise SyncError("the server answered for records it was not sent", code="SERVER_ANSWER_INVALID")
        crossing = batch[result.index]
        if result.status in SYNCED:
            synced.append(crossing.id)
            report.uploaded += result.status == "accepted"
            report.duplicate += result.status == "duplicate"
        else:
            refused.append((crossing.id, result.status, result.code, result.detail))
            report.refused.append(
                {
                    "id": crossing.id,
                    "seq": crossing.seq,
                    "status": result.status,
                    "code": result.code,
                    "detail": result.detail,
                }
            )
    # Records the answer did not mention stay pending and are sent again next time.
    store.mark_synced(synced)
    store.mark_refused(refused)


def _held_version(settings: Settings, now: datetime) -> int | None:
    try:
        return truststore.held_bundle(settings, now=now).version
    except CheckpassError:  # none held, or it cannot be used any more: ask for the full bundle
        return None


def _bundle(api: Api, store: Store, settings: Settings, report: SyncReport, now: datetime) -> None:
    before = _held_version(settings, now)
    etag = store.get_state("bundle_etag") if before is not None else None
    response = api.call("GET", "/api/v1/trust-bundle", headers={"If-None-Match": etag} if etag else None)
    if response.status_code == 304:
        report.bundle = {"status": "unchanged"}
    elif response.status_code == 200:
        pinned = truststore.pinned_root(settings).kid
        try:
            verified = truststore.accept_verified(settings, response.content, now=now)
        except BundleError as err:
            report.bundle = {"status": "refused", "code": err.code, "message": err.message}
            if err.detail:
                report.bundle["detail"] = err.detail
        else:
            store.set_state("bundle_etag", response.headers.get("ETag"))
            report.bundle = {"status": "updated" if verified.bundle.version != before else "unchanged"}
            if verified.root.kid != pinned:  # the bureau rolled its root over: followed, now pinned
                report.bundle["root_rollover"] = {"from": pinned.hex(), "to": verified.root.kid.hex()}
    else:
        code, text = problem_of(response)
        report.bundle = {"status": "refused", "code": code, "message": text}
    try:
        current = truststore.held_bundle(settings, now=now)
    except CheckpassError as err:  # none held, or the held one has expired
        report.bundle.setdefault("code", err.code)
        report.bundle.setdefault("message", err.message)
        return
    report.bundle["version"] = current.version
    report.bundle["stale"] = current.is_stale(now)
    report.clock_skew = now < current.issued_at


def _escorts(api: Api, store: Store, report: SyncReport, *, full: bool) -> None:
    """Fetch the escort requests changed since the last time (``full``: all still pending), page by page.

    The bookmark for next time is the first page's server time, saved once the last page is in: what changes
    while the pages are read is fetched again next time (merging is idempotent), never skipped."""
    since = None if full else store.get_state("escorts_since")
    params: dict[str, Any] = {"since": since} if since else {}
    first_time: str | None = None
    for _page in range(MAX_ESCORT_PAGES):
        response = api.call("GET", "/api/v1/escorts", params=params or None)
        if response.status_code != 200:
            raise _refuse(response, "the escort request")
        answer = _parse(_EscortList, response, "the escort request")
        first_time = first_time or answer.server_time.isoformat()
        last_id = max((e.id for e in answer.escorts), default=0)
        more = answer.more and last_id > params.get("after", 0)  # a page that does not advance ends the fetch
        report.escorts_received += store.merge_escorts(
            [e.model_dump() for e in answer.escorts], server_time=None if more else first_time
        )
        if not more:
            break
        params["after"] = last_id
    report.server_time = first_time


def _officers(api: Api, store: Store, report: SyncReport, now: datetime) -> None:
    """The checkpoint's officers with their PIN hashes replace the held list (signing in works offline after).
    A server from before officers existed answers 404: the laptop then keeps working without sign-in."""
    response = api.call("GET", "/api/v1/officers")
    if response.status_code == 404:
        report.officers = {"status": "unsupported"}
        return
    if response.status_code != 200:
        raise _refuse(response, "the officers request")
    answer = _parse(_OfficerList, response, "the officers request")
    rows = [OfficerRow(o.number, o.name, o.pin_hash, o.active) for o in answer.officers]
    report.officers = {"status": "updated", "count": store.officers.replace(rows, synced_at=now)}


def _handovers(api: Api, store: Store, report: SyncReport) -> None:
    for crossing_id, server_id, at, staff_name, staff_id_last4, officer in store.handovers_to_upload():
        body: dict[str, Any] = {"at": at}
        if staff_name:  # a hand-over recorded before the laptop asked who took the vehicle names nobody
            body |= {"staff_name": staff_name, "staff_id_last4": staff_id_last4, "officer": officer}
        response = api.call("POST", f"/api/v1/escorts/{server_id}/handover", json=body)
        if response.status_code == 200:
            store.handover_uploaded(
                crossing_id, answer=_parse(_Escort, response, "the hand-over").model_dump()
            )
            report.handovers_sent += 1
        elif response.status_code in (404, 409, 422):  # refused for good: resending cannot change the answer
            code, text = problem_of(response)
            store.handover_uploaded(crossing_id, error=code)
            report.handover_errors.append({"crossing_id": crossing_id, "code": code, "message": text})
        else:
            raise _refuse(response, "a hand-over")


def _purge(settings: Settings, store: Store, report: SyncReport, now: datetime) -> None:
    """Once a day, when everything went up: what the server now holds and is past retention leaves the laptop."""
    try:
        done = retention.purge_daily(settings, store, now=now)
    except CheckpassError as err:  # no bundle yet, or the disk: the sync itself went well
        report.purge = {"error": err.code, "message": err.message}
        return
    if done is not None:
        report.purge = done.to_dict()


def sync_once(
    settings: Settings,
    store: Store,
    *,
    client: httpx.Client | None = None,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
) -> SyncReport:
    """Run one sync; the report. Raises SyncError (NOT_ENROLLED, SERVER_UNREACHABLE, DEVICE_REVOKED, …) with
    the partial report attached as ``err.report``; what was done before the error stays done."""
    device = load_device(settings)
    if device is None:
        raise SyncError(
            "this laptop is not enrolled: run `checkpoint enroll --server URL --code CODE`",
            code="NOT_ENROLLED",
        )
    report = SyncReport()
    own_client = client is None
    http = client or new_client(settings)
    api = Api(settings, device.server, http, token=device.token, sleep=sleep, rand=rand)
    try:
        _upload(api, store, settings, report)
        _bundle(api, store, settings, report, now or datetime.now(UTC))
        _officers(api, store, report, now or datetime.now(UTC))
        _escorts(api, store, report, full=False)
        if store.waiting_for_request():  # a request accepted just before the previous server_time: look again
            _escorts(api, store, report, full=True)
        _handovers(api, store, report)
        _purge(settings, store, report, now or datetime.now(UTC))
    except SyncError as err:
        err.report = report
        raise
    finally:
        report.pending = store.pending_count()
        report.retries = api.retries
        if own_client:
            http.close()
    return report
