"""Trust-bundle distribution: the full signed bundle (with ETag) and a compact revocation delta.

Both are public. Checkpoints call them with their device token, but the bundle is signed by the root key the
checkpoint pinned at enrolment and carries no secrets, so anyone may fetch it (a USB stick carries the same bytes).
A full-bundle answer to a device's token is recorded (``servings``): the audit judges the device's records by
what it was served, not by what they claim.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from server.bundles import service as bundles
from server.bundles import servings
from server.bundles.schemas import BundleDelta
from server.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep

__all__ = ["api"]

api = APIRouter(prefix="/api/v1", tags=["bundles"])

BUNDLE_MEDIA_TYPE = "application/octet-stream"


def _matches(if_none_match: str | None, tag: str) -> bool:
    # RFC 9110: a list of tags, weak comparison (W/ ignored), or "*" for any current representation.
    if not if_none_match:
        return False
    candidates = [part.strip().removeprefix("W/") for part in if_none_match.split(",")]
    return "*" in candidates or tag in candidates


@api.get(
    "/trust-bundle",
    response_class=Response,
    responses={
        200: {
            "content": {BUNDLE_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "the signed bundle: a tagged COSE_Sign1 over a CBOR map (docs/pass-format.md section 4)",
        },
        304: {"description": "the bundle named in If-None-Match is still the current one"},
    },
)
def trust_bundle(
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    principal: PrincipalDep,
    if_none_match: Annotated[str | None, Header(max_length=1000)] = None,
) -> Response:
    """The current signed trust bundle, as raw bytes (`application/octet-stream`: a tagged COSE_Sign1, the same
    bytes as `checkpass bundle export`). Verify it against the pinned root key before use.

    `ETag` is `"<version>-<digest prefix>"`; send it back in `If-None-Match` to get `304 Not Modified` while
    nothing changed. `X-Bundle-Version` names the version. A new version is signed when anything in it changed
    (a revocation, key, policy or enterprise) or the newest is half-way to its expiry. Fetched with a device's
    token, the version answered (also by a 304) is recorded as served to that device, for the audit."""
    row = bundles.publish(session=session, settings=settings, now=now)
    if principal.device_id is not None:
        servings.record(session=session, device_id=principal.device_id, version=row.version, now=now)
    tag = bundles.etag(row)
    headers = {"ETag": tag, "X-Bundle-Version": str(row.version), "Cache-Control": "no-cache"}
    if _matches(if_none_match, tag):
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="trust-bundle-v{row.version}.cose"'
    return Response(bytes(row.signed), media_type=BUNDLE_MEDIA_TYPE, headers=headers)


@api.get("/trust-bundle/delta", response_model=BundleDelta, responses={422: {}})
def trust_bundle_delta(
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    since: Annotated[int, Query(ge=1, le=2**31 - 1, description="the bundle version the client holds")],
) -> BundleDelta:
    """A compact list of the passes revoked since bundle version `since`, for a checkpoint on a thin link.

    **The full signed bundle remains the authority.** The delta is not signed: a checkpoint may refuse the
    passes it lists at once, but must fetch the full bundle (`GET /api/v1/trust-bundle`) to learn of key or
    policy changes (`full_required`), to verify the list, and before its held bundle expires."""
    found = bundles.delta(session=session, settings=settings, since=since, now=now)
    return BundleDelta(
        from_version=found.from_version,
        to_version=found.to_version,
        revoked=found.revoked,
        full_required=found.full_required,
    )
