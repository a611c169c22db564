"""Demo data for problems and appeals (issue 13): the departments problems are passed to, each with a staff
account (password DEMO_PASSWORD, like every demo account), the service centre's hotline, one open problem."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from passcore.policy import Policy
from server.accounts.models import User
from server.departments import service as departments
from server.departments.models import Department
from server.policy import service as policy_service
from server.problems import service as problems
from server.problems.models import Problem

__all__ = ["DEMO_DEPARTMENTS", "DEMO_HOTLINE", "hotline", "seed_problems"]

# The Suzhou service centre's number from seed 003 (a public government hotline of 2020).
DEMO_HOTLINE = "0512-68125723"
DEMO_DEPARTMENTS = (
    ("市公安局交通警察支队", "Public Security Bureau, Traffic Police", "0512-65225661", "demo-police"),
    ("市卫生健康委员会", "Municipal Health Commission", "0512-68727770", "demo-health"),
    ("市工业和信息化局", "Bureau of Industry and Information Technology", "0512-68616213", "demo-industry"),
)


def hotline(*, session: Session, policy: Policy, now: datetime) -> Policy:
    """The policy in force with the demo hotline (a new version only when it has none)."""
    if policy.service_hotline:
        return policy
    return policy_service.set_policy(
        session=session, changes={"service_hotline": DEMO_HOTLINE}, now=now, by="checkpass demo"
    )


def seed_problems(*, session: Session, now: datetime, password: str) -> None:
    """Departments and their staff, and one problem from the Kunshan enterprise waiting for the bureau."""
    for name_zh, name_en, phone, username in DEMO_DEPARTMENTS:
        department = session.exec(select(Department).where(Department.name_zh == name_zh)).first()
        if department is None:
            department = departments.create(
                session=session, name_zh=name_zh, name_en=name_en, phone=phone, now=now
            )
        if session.exec(select(User).where(User.username == username)).first() is None:
            departments.add_staff(
                session=session,
                department=department,
                username=username,
                password=password,
                display_name=name_zh,
                now=now,
            )
    if session.exec(select(Problem)).first() is None:
        clerk = session.exec(select(User).where(User.username == "demo-enterprise")).one()
        problems.raise_problem(
            session=session,
            user=clerk,
            kind="not_recognised",
            description="车辆苏E·A1234在G312昆山东卡口扫码时提示通行证无效，但通行证在有效期内，请核查。",
            now=now,
        )
