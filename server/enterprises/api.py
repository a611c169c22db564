"""The enterprise administration JSON API: the list with verification status, verifying or rejecting one."""

from __future__ import annotations

from fastapi import APIRouter

from server.deps import ClockDep, SessionDep
from server.enterprises import service as enterprises
from server.enterprises.deps import AdminUser
from server.enterprises.schemas import EnterpriseAdmin, Refusal

__all__ = ["api"]

api = APIRouter(prefix="/api/v1", tags=["enterprises"])


@api.get("/enterprises", response_model=list[EnterpriseAdmin], responses={401: {}, 403: {}})
def api_enterprise_list(admin: AdminUser, session: SessionDep) -> list[EnterpriseAdmin]:
    """Every registered enterprise, those waiting for verification first (administrators)."""
    return [EnterpriseAdmin.of(e, by) for e, by in enterprises.list_enterprises(session)]


@api.post("/enterprises/{uscc}/verify", response_model=EnterpriseAdmin, responses={401: {}, 403: {}, 404: {}})
def api_enterprise_verify(uscc: str, admin: AdminUser, session: SessionDep, now: ClockDep) -> EnterpriseAdmin:
    """Verify an enterprise (administrators): from then on it can apply for passes. Idempotent."""
    enterprise = enterprises.verify(session=session, uscc=uscc, admin=admin, now=now)
    return EnterpriseAdmin.of(enterprise, enterprises.verifier(session, enterprise))


@api.post(
    "/enterprises/{uscc}/reject",
    response_model=EnterpriseAdmin,
    responses={400: {}, 401: {}, 403: {}, 404: {}, 409: {}},
)
def api_enterprise_reject(
    uscc: str, body: Refusal, admin: AdminUser, session: SessionDep, now: ClockDep
) -> EnterpriseAdmin:
    """Refuse an enterprise's verification with a reason it will see (administrators); it can upload a new
    business licence and ask again. A verified enterprise cannot be rejected (409)."""
    enterprise = enterprises.reject(session=session, uscc=uscc, admin=admin, reason=body.reason, now=now)
    return EnterpriseAdmin.of(enterprise, enterprises.verifier(session, enterprise))
