"""Demo data: Hubei as the hard-hit area (as in February 2020), demo passes, a forged one, and scenarios.

`checkpass demo --out DIR` writes what a checkpoint needs to try every outcome offline.
"""

from __future__ import annotations

import functools
import json
import zlib
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import base45
import cbor2
from cwt import COSE, COSEKey
from sqlmodel import Session, col, select

from passcore import claims as claims_mod
from passcore import trust, wire
from passcore.claims import PassClaims
from passcore.keys import generate_signing_key
from server.accounts import service as accounts
from server.accounts.models import User
from server.applications import service as applications
from server.applications.schemas import ApplicationCreate, parse_application
from server.bundles import service as bundles
from server.config import Settings
from server.demo import bus as demo_bus
from server.demo import documents as demo_documents
from server.demo import problems as demo_problems
from server.demo.crossings import seed_crossings
from server.errors import AppError, BadRequest
from server.keyring import service as keyring
from server.passes import render
from server.passes import service as passes
from server.policy import service as policy_service

__all__ = ["DEMO_HARD_HIT", "DEMO_PASSWORD", "DEMO_USERS", "forge_pass", "seed"]

DEMO_HARD_HIT = "420000"
# Demo accounts only: `checkpass demo` (re)sets them to this password and prints it.
DEMO_PASSWORD = "checkpass-demo-2020"  # noqa: S105  (public on purpose; see _demo_users)
DEMO_USERS = (
    ("demo-enterprise", "enterprise", "91320583MA1XY71231", "陈经理"),
    ("demo-enterprise-wuhan", "enterprise", "91420100MA4K00001U", "刘经理"),
    ("demo-reviewer", "reviewer", None, "审核员 王芳"),
    ("demo-auditor", "auditor", None, "审计员 李明"),
    ("demo-admin", "admin", None, "管理员 赵磊"),
)


def _applications(now: datetime) -> dict[str, dict[str, Any]]:
    window = {
        "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=14)).isoformat(),
    }
    return {
        "kunshan": {
            "enterprise": {"name": "昆山精密机械有限公司", "uscc": "91320583MA1XY71231"},
            "vehicle": {"plate": "苏E·A1234", "plate_colour": "yellow"},
            "driver": {
                "name": "张伟",
                "id_number": "320583198503121234",
                "licence_number": "320583198503121234",
                "phone": "13800000000",
            },
            "escorts": [
                {"name": "李娜", "id_number": "320583199007054567"},
                {"name": "王强", "id_number": "320506197911203215"},
            ],
            "origin": "320583",
            "destination": "310000",
            "travel_history": ["320500"],
            "cargo": "精密零部件",
        }
        | window,
        "wuhan": {
            "enterprise": {"name": "武汉长江物流有限公司", "uscc": "91420100MA4K00001U"},
            "vehicle": {"plate": "鄂A·D12345", "plate_colour": "green"},
            "driver": {
                "name": "刘洋",
                "id_number": "420102198801017893",
                "licence_number": "420102198801017893",
                "phone": "13900000000",
            },
            "escorts": [],
            "origin": "420100",
            "destination": "320583",
            "travel_history": ["420100"],
            "cargo": "医用防护物资",
        }
        | window,
        # A chartered bus of returning workers with its manifest (issue 14): server/demo/bus.py.
        "bus": demo_bus.application(window),
    }


def forge_pass(claims: PassClaims, *, claimed_kid: bytes) -> str:
    """A pass that names a trusted key but is signed by a throwaway one: what a forger would print."""
    impostor = generate_signing_key()
    key = COSEKey.from_pem(impostor.to_pem(), alg="EdDSA", kid=claimed_kid)
    message = COSE.new().encode(
        cbor2.dumps(claims_mod.to_cwt(claims)), key, protected={1: -8, 4: claimed_kid}, unprotected={}
    )
    return wire.PREFIX + base45.b45encode(zlib.compress(message, 9)).decode("ascii")


def _write_pass(
    out: Path, text: str, claims: PassClaims, card: render.PassCard, manifest: tuple[str, ...] = ()
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "pass.txt").write_text(text + "\n", encoding="ascii")
    if manifest:  # a bus's signed manifest pages, one a line, as `checkpass issue` writes them
        (out / "manifest.txt").write_text("".join(page + "\n" for page in manifest), encoding="ascii")
    render.write_all(text, card, out)
    (out / "pass.json").write_text(
        json.dumps(claims.readable(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


def _scenarios(kunshan: str, wuhan: str, forged: str) -> dict[str, dict[str, Any]]:
    confirmed = {"identity_confirmed": True, "licence_confirmed": True}
    crew = [
        {"role": "driver", "name": "张伟", "temperature_c": 36.5},
        {"role": "escort", "name": "李娜", "temperature_c": 36.6},
        {"role": "escort", "name": "王强", "temperature_c": 36.4},
    ]
    return {
        "release": {"pass": kunshan, "observed": {"plate": "苏E·A1234"} | confirmed, "occupants": crew},
        "fever": {
            "pass": kunshan,
            "observed": {"plate": "苏E·A1234"} | confirmed,
            "occupants": [crew[0], crew[1] | {"temperature_c": 38.2}],
        },
        "hard-hit-escort": {
            "pass": wuhan,
            "observed": {"plate": "鄂A·D12345"} | confirmed,
            "occupants": [{"role": "driver", "name": "刘洋", "temperature_c": 36.8, "origin": "420100"}],
        },
        "forged": {
            "pass": forged,
            "observed": {"plate": "苏E·B9999"} | confirmed,
            "occupants": [crew[0] | {"name": "赵六"}],
        },
        "no-pass": {
            "observed": {"plate": "浙A·12345"},
            "vehicle_origin": "330100",
            "occupants": [{"role": "driver", "name": "孙磊", "temperature_c": 36.7, "origin": "330100"}],
        },
    }


def _demo_users(session: Session, now: datetime) -> None:
    # Accounts with a published password must never appear beside real ones.
    real = session.exec(select(User.username).where(~col(User.username).startswith("demo-"))).first()
    if real is not None:
        raise BadRequest(
            "this database has real accounts: demo data (with public passwords) is refused here",
            code="DEMO_REFUSED",
        )
    for username, role, uscc, name in DEMO_USERS:
        try:
            accounts.reset_password(session=session, username=username, password=DEMO_PASSWORD, now=now)
        except AppError:
            accounts.create_user(
                session=session,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                enterprise_uscc=uscc,
                display_name=name,
                now=now,
            )


def _demo_queue(session: Session, now: datetime) -> None:
    """Applications waiting for review, so the reviewer's queue has something to show."""
    clerk = session.exec(select(User).where(User.username == "demo-enterprise")).one()
    data = _applications(now)["kunshan"] | {
        "vehicle": {"plate": "苏E·C5678", "plate_colour": "blue"},
        "escorts": [{"name": "李娜", "id_number": "320583199007054567"}],
        "cargo": "电子元器件",
    }
    applications.create(session=session, user=clerk, data=data, submit=True, now=now)
    # And one from the hard-hit area, so the queue and the review page show risk flags (and the driver on the live
    # Wuhan pass, shown as "also on other live passes").
    wuhan = session.exec(select(User).where(User.username == "demo-enterprise-wuhan")).one()
    data = _applications(now)["wuhan"] | {"vehicle": {"plate": "鄂A·E6789", "plate_colour": "blue"}}
    applications.create(session=session, user=wuhan, data=data, submit=True, now=now)


def seed(*, session: Session, settings: Settings, out: Path, now: datetime, card: Any) -> dict[str, Any]:
    """Seed demo data and write passes and scenarios under ``out``; ``card`` builds a PassCard."""
    keyring.ensure_keys(session=session, settings=settings, now=now)
    policy_service.ensure_default(session=session, now=now)
    policy = policy_service.current(session)
    if DEMO_HARD_HIT not in policy.hard_hit:
        policy = policy_service.set_policy(
            session=session,
            changes={"hard_hit": [*policy.hard_hit, DEMO_HARD_HIT]},
            now=now,
            by="checkpass demo",
        )
    # Before the passes: their PDFs print the service centre's hotline.
    policy = demo_problems.hotline(session=session, policy=policy, now=now)
    card = functools.partial(card, hotline=policy.service_hotline)
    signer = keyring.active_issuer(session=session, settings=settings)
    texts: dict[str, str] = {}
    issued: dict[str, PassClaims] = {}
    applications: dict[str, ApplicationCreate] = {}
    manifests: dict[str, tuple[str, ...]] = {}
    for name, data in _applications(now).items():
        application = parse_application(data)
        result = passes.issue(
            session=session,
            application=application,
            signer=signer,
            policy=policy,
            issuer_region=settings.issuer_region,
            now=now,
        )
        pages = result.manifest
        _write_pass(
            out / name,
            result.qr_text,
            result.claims,
            card(result.claims, application, settings, pages=pages),
            pages,
        )
        texts[name], issued[name], applications[name] = result.qr_text, result.claims, application
        manifests[name] = pages
    _demo_users(session, now)
    demo_problems.seed_problems(session=session, now=now, password=DEMO_PASSWORD)
    _demo_queue(session, now)
    # Licences to open, and an enterprise waiting for them.
    demo_documents.seed_documents(session=session, now=now)
    fake = replace(issued["kunshan"], plate="苏EB9999", driver=replace(issued["kunshan"].driver, name="赵六"))
    texts["forged"] = forge_pass(fake, claimed_kid=signer.kid)
    _write_pass(out / "forged", texts["forged"], fake, card(fake, applications["kunshan"], settings))
    scenario_dir = out / "scenarios"
    scenario_dir.mkdir(parents=True, exist_ok=True)
    scenarios = _scenarios(texts["kunshan"], texts["wuhan"], texts["forged"])
    for name, scenario in scenarios.items():
        (scenario_dir / f"{name}.json").write_text(
            json.dumps(scenario, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    # The bus's scenario stays beside its pass: scenarios/ holds the five freight cases that the laptop's tests
    # and the demo's recorded crossings go through.
    arrived = now - timedelta(minutes=3)
    (out / "bus" / "scenario.json").write_text(
        json.dumps(
            demo_bus.scenario(texts["bus"], list(manifests["bus"]), arrived), ensure_ascii=False, indent=2
        )
        + "\n",
        encoding="utf-8",
    )
    # The checkpoints' bundle, signed a few hours back: the demo crossings were decided with it.
    root = keyring.load_root(settings)
    row = bundles.current(
        session=session,
        root=root,
        validity=timedelta(days=settings.bundle_validity_days),
        now=now - timedelta(hours=4),
    )
    bundle = trust.load_bundle(bytes(row.signed), root=root.public, now=None)
    uploaded = seed_crossings(session=session, bundle=bundle, scenarios=scenarios, now=now)
    return {
        "passes": {name: c.pass_id for name, c in issued.items()},
        "policy_version": policy.version,
        "crossings": uploaded,
    }
