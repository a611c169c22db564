"""The accounts JSON API: bearer tokens for scripts."""

from __future__ import annotations

from fastapi import APIRouter

from server.accounts import service as accounts
from server.accounts.deps import ClientAddress
from server.accounts.schemas import TokenRequest, TokenResponse
from server.deps import ClockDep, SessionDep, SettingsDep

__all__ = ["api"]

api = APIRouter(prefix="/api/v1/auth", tags=["accounts"])


@api.post("/token", response_model=TokenResponse, responses={401: {}, 429: {}})
def issue_token(
    body: TokenRequest, client: ClientAddress, session: SessionDep, settings: SettingsDep, now: ClockDep
) -> TokenResponse:
    """A bearer token for scripts: send it as `Authorization: Bearer <token>`; it is shown only once."""
    user = accounts.authenticate(
        session=session,
        username=body.username,
        password=body.password,
        client=client,
        settings=settings,
        now=now,
    )
    token = accounts.create_api_token(session=session, user=user, name=body.name, now=now)
    return TokenResponse(token=token, role=user.role)
