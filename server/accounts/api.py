"""The accounts JSON API: bearer tokens for scripts, listed and revoked by their owner and by administrators;
administrators also deactivate and reactivate accounts, create bureau accounts and generate one-time passwords."""

from __future__ import annotations

from fastapi import APIRouter, Response

from server.accounts import bureau
from server.accounts import service as accounts
from server.accounts.deps import AdminUser, ClientAddress
from server.accounts.schemas import (
    BureauAccountCreate,
    OneTimePassword,
    PasswordReset,
    TokenPublic,
    TokenRequest,
    TokenResponse,
    UserAdmin,
)
from server.deps import ClockDep, CurrentUser, SessionDep, SettingsDep

__all__ = ["api"]

api = APIRouter(prefix="/api/v1", tags=["accounts"])


@api.post("/auth/token", response_model=TokenResponse, responses={401: {}, 429: {}})
def issue_token(
    body: TokenRequest, client: ClientAddress, session: SessionDep, settings: SettingsDep, now: ClockDep
) -> TokenResponse:
    """A bearer token for scripts: send it as `Authorization: Bearer <token>`; it is shown only once and expires
    after `CHECKPASS_API_TOKEN_DAYS` (30) days. Failed sign-ins back off per account and address (429)."""
    user = accounts.authenticate(
        session=session,
        username=body.username,
        password=body.password,
        client=client,
        settings=settings,
        now=now,
    )
    secret, token = accounts.issue_user_token(
        session=session, user=user, name=body.name, settings=settings, now=now
    )
    return TokenResponse(
        token=secret, role=user.role, id=token.id or 0, name=token.name, expires_at=token.expires_at or now
    )


@api.get("/account/tokens", response_model=list[TokenPublic], responses={401: {}})
def my_tokens(user: CurrentUser, session: SessionDep, now: ClockDep) -> list[TokenPublic]:
    """The signed-in user's live API tokens (neither expired nor revoked), newest first."""
    return [TokenPublic.of(t) for t in accounts.list_tokens(session=session, user=user, now=now)]


@api.delete("/account/tokens/{token_id}", status_code=204, responses={401: {}, 404: {}})
def revoke_my_token(token_id: int, user: CurrentUser, session: SessionDep, now: ClockDep) -> Response:
    """Revoke one of the signed-in user's tokens (another's answers 404)."""
    accounts.revoke_token(session=session, user=user, token_id=token_id, now=now)
    return Response(status_code=204)


@api.get("/users", response_model=list[UserAdmin], responses={401: {}, 403: {}})
def user_list(admin: AdminUser, session: SessionDep, now: ClockDep) -> list[UserAdmin]:
    """Every account with its number of live API tokens (administrators)."""
    return [UserAdmin.of(user, tokens) for user, tokens in accounts.list_users(session, now)]


@api.get("/users/{username}/tokens", response_model=list[TokenPublic], responses={401: {}, 403: {}, 404: {}})
def user_tokens(username: str, admin: AdminUser, session: SessionDep, now: ClockDep) -> list[TokenPublic]:
    """An account's live API tokens (administrators)."""
    user = accounts.find_user(session, username)
    return [TokenPublic.of(t) for t in accounts.list_tokens(session=session, user=user, now=now)]


@api.delete("/users/{username}/tokens/{token_id}", status_code=204, responses={401: {}, 403: {}, 404: {}})
def user_token_revoke(
    username: str, token_id: int, admin: AdminUser, session: SessionDep, now: ClockDep
) -> Response:
    """Revoke one of an account's tokens (administrators)."""
    user = accounts.find_user(session, username)
    accounts.revoke_token(session=session, user=user, token_id=token_id, now=now)
    return Response(status_code=204)


@api.post("/users/{username}/tokens/revoke", responses={401: {}, 403: {}, 404: {}})
def user_tokens_revoke(username: str, admin: AdminUser, session: SessionDep, now: ClockDep) -> dict[str, int]:
    """Revoke every live token of an account (administrators); answers how many were revoked."""
    user = accounts.find_user(session, username)
    return {"revoked": accounts.revoke_tokens(session=session, user=user, now=now)}


@api.post("/users/{username}/password", status_code=204, responses={401: {}, 403: {}, 404: {}, 422: {}})
def user_password(
    username: str, body: PasswordReset, admin: AdminUser, session: SessionDep, now: ClockDep
) -> Response:
    """Set a new password (administrators): every session and token of the account ends."""
    accounts.reset_password_now(session=session, username=username, password=body.password, now=now)
    return Response(status_code=204)


@api.post(
    "/users/{username}/deactivate", response_model=UserAdmin, responses={401: {}, 403: {}, 404: {}, 409: {}}
)
def user_deactivate(username: str, admin: AdminUser, session: SessionDep, now: ClockDep) -> UserAdmin:
    """Deactivate an account (administrators): sign-in refused, every session and token ended. Not oneself."""
    user = accounts.set_active(session=session, username=username, active=False, now=now, by=admin)
    return UserAdmin.of(user, 0)


@api.post("/users/{username}/activate", response_model=UserAdmin, responses={401: {}, 403: {}, 404: {}})
def user_activate(username: str, admin: AdminUser, session: SessionDep, now: ClockDep) -> UserAdmin:
    """Reactivate an account (administrators); its old sessions and tokens stay ended."""
    user = accounts.set_active(session=session, username=username, active=True, now=now)
    return UserAdmin.of(user, 0)


@api.post(
    "/users", response_model=OneTimePassword, status_code=201, responses={401: {}, 403: {}, 409: {}, 422: {}}
)
def api_bureau_user_create(
    body: BureauAccountCreate, admin: AdminUser, session: SessionDep, now: ClockDep
) -> OneTimePassword:
    """Create a bureau account (administrators): a reviewer, auditor or administrator with a generated password,
    returned in this answer only (only its hash is kept)."""
    user, password = bureau.create_bureau_user(
        session=session, username=body.username, role=body.role, display_name=body.display_name, now=now
    )
    return OneTimePassword(user=UserAdmin.of(user, 0), password=password)


@api.post(
    "/users/{username}/password/generate",
    response_model=OneTimePassword,
    responses={401: {}, 403: {}, 404: {}},
)
def api_generate_password(
    username: str, admin: AdminUser, session: SessionDep, now: ClockDep
) -> OneTimePassword:
    """Replace the account's password by a generated one (administrators), returned in this answer only; every
    session and token of the account ends."""
    user, password = bureau.reset_with_generated(session=session, username=username, now=now)
    return OneTimePassword(user=UserAdmin.of(user, 0), password=password)
