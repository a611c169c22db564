"""What the JSON API says about applications (response models) and the documented shape of its request body."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from server.accounts.models import BUREAU_ROLES, User
from server.applications.models import ApplicationEvent
from server.applications.queries import Row
from server.applications.schemas import ApplicationCreate, EnterpriseRef
from server.applications.service import body_of

__all__ = [
    "ApplicationBody",
    "ApplicationList",
    "ApplicationPublic",
    "ApplicationSummary",
    "EventPublic",
    "ReasonBody",
    "request_schema",
]


class ApplicationBody(ApplicationCreate):
    """The application file's shape; ``enterprise`` may be left out: it is always the applicant's own."""

    enterprise: EnterpriseRef | None = None  # type: ignore[assignment]


class ReasonBody(BaseModel):
    reason: str = Field(default="", max_length=5000, description="why; required, at most 500 characters")


class ApplicationSummary(BaseModel):
    id: int
    status: str
    enterprise_uscc: str
    enterprise_name: str
    plate: str
    valid_from: datetime | None
    valid_until: datetime | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None
    reason: str = Field(description="the rejection's (or revocation's) reason")
    pass_id: str | None
    serial: str | None = Field(description="the pass's number, e.g. 320583-000001")

    @classmethod
    def of(cls, row: Row) -> ApplicationSummary:
        a = row.application
        return cls(
            id=a.id or 0,
            status=a.status,
            enterprise_uscc=a.enterprise_uscc,
            enterprise_name=row.enterprise_name,
            plate=a.plate,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            created_at=a.created_at,
            updated_at=a.updated_at,
            submitted_at=a.submitted_at,
            decided_at=a.decided_at,
            reason=a.reason,
            pass_id=a.pass_id,
            serial=row.serial,
        )


class ApplicationPublic(ApplicationSummary):
    application: ApplicationCreate = Field(description="as applied for, full ID numbers included")

    @classmethod
    def of(cls, row: Row) -> ApplicationPublic:
        summary = ApplicationSummary.of(row).model_dump()
        return cls(**summary, application=body_of(row.application))


class ApplicationList(BaseModel):
    items: list[ApplicationSummary]
    total: int


class EventPublic(BaseModel):
    at: datetime
    from_status: str = Field(description="empty for the creation")
    to_status: str = Field(description="equal to from_status (draft) for an edit")
    reason: str
    actor_role: str | None = Field(description="None: the system (e.g. expiry)")
    actor: str | None = Field(description="the username; shown to bureau staff only")

    @classmethod
    def of(cls, event: ApplicationEvent, actor: User | None, viewer: User) -> EventPublic:
        return cls(
            at=event.at,
            from_status=event.from_status,
            to_status=event.to_status,
            reason=event.reason,
            actor_role=actor.role if actor else None,
            actor=actor.username if actor and viewer.role in BUREAU_ROLES else None,
        )


def request_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` inlined, to document a body the route validates itself."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = defs[node["$ref"].rsplit("/", 1)[1]]
                return inline({**target, **{k: v for k, v in node.items() if k != "$ref"}})
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return inline(schema)  # type: ignore[no-any-return]
