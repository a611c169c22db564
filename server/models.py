"""Every table, imported in one place so the metadata is complete (migrations, tests)."""

from server.accounts.models import ApiToken, LoginAttempt, RegistrationAttempt, User, WebSession
from server.alerts.models import Alert, AlertEvent, AuditQueueEntry
from server.applications.models import Application, ApplicationEvent, PersonHash
from server.bundles.models import BundleServing, BundleStatement, BundleVersion
from server.checkpoints.models import Checkpoint, Device, EnrolmentCode
from server.crossings.models import (
    Crossing,
    CrossingConflict,
    CrossingEnterpriseDay,
    CrossingHour,
    EscortRequest,
)
from server.departments.models import Department
from server.documents.models import Document
from server.driver_links.models import DriverLink
from server.enterprises.models import Enterprise
from server.keyring.models import KeyRecord
from server.notices.models import Notice, NoticeConfig, NoticeDelivery, PasswordReset
from server.officers.models import Officer
from server.passes.models import IssuedPass, ManifestPage, Revocation
from server.policy.models import PolicyVersion
from server.problems.models import Problem, ProblemEvent
from server.quarantine.models import QuarantineTask
from server.retention.models import RetentionRun

__all__ = [
    "Alert",
    "AlertEvent",
    "ApiToken",
    "Application",
    "ApplicationEvent",
    "AuditQueueEntry",
    "BundleServing",
    "BundleStatement",
    "BundleVersion",
    "Checkpoint",
    "Crossing",
    "CrossingConflict",
    "CrossingEnterpriseDay",
    "CrossingHour",
    "Department",
    "Device",
    "Document",
    "DriverLink",
    "EnrolmentCode",
    "Enterprise",
    "EscortRequest",
    "IssuedPass",
    "KeyRecord",
    "LoginAttempt",
    "ManifestPage",
    "Notice",
    "NoticeConfig",
    "NoticeDelivery",
    "Officer",
    "PasswordReset",
    "PersonHash",
    "PolicyVersion",
    "Problem",
    "ProblemEvent",
    "QuarantineTask",
    "RegistrationAttempt",
    "RetentionRun",
    "Revocation",
    "User",
    "WebSession",
]
