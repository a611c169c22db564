"""`checkpass`: the server side's command line (DESIGN.md section 8).

Every command reads its settings once, works in one database transaction and prints either a line for people
or, with --json, a JSON document. Bad input exits 2 with one line on stderr; never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from passcore import ids
from passcore.errors import CheckpassError, InputError
from server.accounts import service as accounts
from server.applications.schemas import parse_application
from server.bundles import service as bundles
from server.config import Settings, get_settings
from server.db import make_engine, migrate, session_scope
from server.demo import laptop as demo_laptop
from server.demo import seed as demo_data
from server.errors import AppError
from server.keyring import service as keyring
from server.passes import render
from server.passes import service as passes
from server.passes.card import card_for
from server.policy import service as policy_service

__all__ = ["app", "main"]

app = typer.Typer(
    help="Checkpoint vehicle passes: the bureau's side.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
keys_app = typer.Typer(help="Issuer keys.", no_args_is_help=True)
user_app = typer.Typer(help="Portal accounts of bureau staff.", no_args_is_help=True)
policy_app = typer.Typer(help="The release policy.", no_args_is_help=True)
bundle_app = typer.Typer(help="The signed trust bundle.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(user_app, name="user")
app.add_typer(policy_app, name="policy")
app.add_typer(bundle_app, name="bundle")

MAX_APPLICATION_BYTES = 64 * 1024
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"checkpass: error: {message}", err=True)
    raise typer.Exit(code)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _state(*, create: bool = False) -> Iterator[tuple[Settings, Session]]:
    settings = get_settings()
    engine = make_engine(settings)
    if create:
        migrate(engine)
    with session_scope(engine) as session:
        yield settings, session
    engine.dispose()


def _read_json(path: Path, what: str) -> Any:
    try:
        if path.stat().st_size > MAX_APPLICATION_BYTES:
            _fail(f"{what} {path} is larger than {MAX_APPLICATION_BYTES // 1024} KiB")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        _fail(f"cannot read {what} {path}: {getattr(err, 'strerror', None) or err}")
    except json.JSONDecodeError as err:
        _fail(f"{what} {path} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}")


@app.command()
def init() -> None:
    """Create keys, the database and a default policy (safe to run again)."""
    now = _now()
    with _state(create=True) as (settings, session):
        created = keyring.ensure_keys(session=session, settings=settings, now=now)
        if policy_service.ensure_default(session=session, now=now):
            created.append("default policy")
    where = (settings.database_url and "PostgreSQL") or str(settings.db_dir)
    typer.echo(
        f"checkpass: initialised in {settings.home.resolve()} (database: {where}); "
        f"created: {', '.join(created) or 'nothing, all present'}"
    )


@app.command()
def issue(
    application_file: Annotated[Path, typer.Argument(metavar="APPLICATION.json")],
    out: Annotated[Path, typer.Option("--out", help="Folder for pass.txt/png/svg/pdf/json.")],
    page: Annotated[str, typer.Option(help="PDF page size: A5 or A4.")] = "A5",
    as_json: JsonFlag = False,
) -> None:
    """Sign a pass straight from an application file."""
    if page not in ("A5", "A4"):
        _fail("--page must be A5 or A4")
    application = parse_application(_read_json(application_file, "application"))
    now = _now()
    with _state() as (settings, session):
        signer = keyring.active_issuer(session=session, settings=settings)
        issued = passes.issue(
            session=session,
            application=application,
            signer=signer,
            policy=policy_service.current(session),
            issuer_region=settings.issuer_region,
            now=now,
        )
        out.mkdir(parents=True, exist_ok=True)
        (out / "pass.txt").write_text(issued.qr_text + "\n", encoding="ascii")
        paths = render.write_all(
            issued.qr_text, card_for(issued.claims, application, settings), out, page=page
        )
        readable = issued.claims.readable()
        (out / "pass.json").write_text(
            json.dumps(readable, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    summary = {
        "pass_id": issued.claims.pass_id,
        "serial": issued.claims.serial,
        "qr_version": render.qr_version(issued.qr_text),
        "qr_chars": len(issued.qr_text),
        "files": {
            k: str(v) for k, v in ({"txt": out / "pass.txt", "json": out / "pass.json"} | paths).items()
        },
    }
    if as_json:
        _print_json(summary)
    else:
        typer.echo(
            f"issued pass {summary['serial']} ({summary['pass_id']}), QR version {summary['qr_version']}, "
            f"files in {out}"
        )


@app.command()
def revoke(
    pass_id: Annotated[str, typer.Argument(metavar="PASS_ID")],
    reason: Annotated[str, typer.Option(help="Why (kept for the audit).")] = "",
) -> None:
    """Revoke a pass; checkpoints refuse it once they have the next trust bundle."""
    with _state() as (_settings, session):
        revocation, new = passes.revoke(
            session=session, pass_id=pass_id, reason=reason, by="checkpass cli", now=_now()
        )
    state = "revoked" if new else "was already revoked at " + revocation.revoked_at.isoformat()
    typer.echo(f"pass {revocation.pass_id} {state}; export a new trust bundle to tell the checkpoints")


def _key_json(record: Any) -> dict[str, Any]:
    return {
        "kid": record.kid,
        "role": record.role,
        "alg": record.alg,
        "public_key": record.public_key_pem,
        "status": record.status,
        "valid_from": record.valid_from.isoformat(),
        "valid_until": record.valid_until.isoformat() if record.valid_until else None,
    }


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (use PostgreSQL for more than one).")] = 1,
) -> None:
    """Run the portal and API (embedded SQLite by default; CHECKPASS_DATABASE_URL for PostgreSQL)."""
    import uvicorn

    with _state(create=True) as (settings, session):
        keyring.ensure_keys(session=session, settings=settings, now=_now())
        policy_service.ensure_default(session=session, now=_now())
    typer.echo(f"checkpass: serving on http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(
        "server.main:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(metavar="USERNAME")],
    role: Annotated[str, typer.Option(help="admin, reviewer or auditor")] = "admin",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create a bureau account (the first administrator, reviewers, auditors)."""
    if role not in ("admin", "reviewer", "auditor"):
        _fail("--role must be admin, reviewer or auditor (enterprises register on the portal)")
    password = _password(password_stdin)
    with _state(create=True) as (_settings, session):
        user = accounts.create_user(
            session=session, username=username, password=password, role=role, display_name=name, now=_now()
        )
    typer.echo(f"created {user.role} {user.username}")


@user_app.command("reset-password")
def user_reset_password(
    username: Annotated[str, typer.Argument(metavar="USERNAME")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Set a new password (and sign the user out everywhere)."""
    password = _password(password_stdin)
    with _state() as (_settings, session):
        user = accounts.reset_password(session=session, username=username, password=password)
    typer.echo(f"password of {user.username} reset; their sessions are ended")


DEMO_VIDEO_PASSES = ("kunshan", "wuhan", "forged")


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for demo passes, scenarios and the bundle.")
    ] = Path("demo-out"),
    video: Annotated[
        bool, typer.Option("--video/--no-video", help="Also record the camera video of the demo passes.")
    ] = True,
) -> None:
    """Seed demo data: Hubei (420000) hard-hit, demo passes, a forged pass, scenarios, a trust bundle, and the
    checkpoint laptop's kit (a one-time enrolment code and a recorded camera video)."""
    now = _now()
    with _state(create=True) as (settings, session):
        summary = demo_data.seed(session=session, settings=settings, out=out, now=now, card=card_for)
        row = bundles.current(
            session=session,
            root=keyring.load_root(settings),
            validity=timedelta(days=settings.bundle_validity_days),
            now=now,
        )
        code, checkpoint = demo_laptop.enrolment_code(
            session=session, settings=settings, admin="demo-admin", now=now
        )
    (out / "bundle.cose").write_bytes(row.signed)
    code_file = out / "enrolment-code.txt"
    code_file.unlink(missing_ok=True)
    code_file.touch(mode=0o600)  # a credential until it is spent: only its owner reads it
    code_file.write_text(code + "\n", encoding="ascii")
    typer.echo(
        f"demo data in {out}: passes {', '.join(summary['passes'])} and a forged one, scenarios in "
        f"{out / 'scenarios'}, trust bundle version {row.version} in {out / 'bundle.cose'}"
    )
    typer.echo(f"one-time enrolment code for {checkpoint.name}'s laptop in {code_file}")
    if video:
        texts = [(out / name / "pass.txt").read_text(encoding="ascii").strip() for name in DEMO_VIDEO_PASSES]
        path = demo_laptop.write_video(out / "camera.avi", texts)
        typer.echo(f"recorded camera video of the demo passes (for a laptop without a webcam): {path}")
    typer.echo(f"demo accounts, password {demo_data.DEMO_PASSWORD}:")
    for username, role, _uscc, name in demo_data.DEMO_USERS:
        typer.echo(f"  {username:<24} {role:<10} {name}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Make a new issuer key active; passes signed by the old one stay valid until it is retired."""
    with _state() as (settings, session):
        record = keyring.rotate(session=session, settings=settings, now=_now())
    typer.echo(f"new active issuer key {record.kid}")


@keys_app.command("retire")
def keys_retire(kid: Annotated[str, typer.Argument(metavar="KID")]) -> None:
    """Retire an old issuer key: passes it signed no longer verify."""
    with _state() as (_settings, session):
        record = keyring.retire(session=session, kid=kid.strip().lower(), now=_now())
    typer.echo(f"issuer key {record.kid} retired")


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """The keys with their status and validity."""
    with _state() as (_settings, session):
        rows = [_key_json(r) for r in keyring.list_keys(session)]
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['kid']}  {row['role']:<6}  {row['alg']:<5}  {row['status']:<8}  from {row['valid_from']}"
        )


def _yes_no(value: str) -> bool:
    if value.lower() not in ("yes", "no"):
        raise InputError("--pass-mandatory takes yes or no", code="POLICY_INVALID")
    return value.lower() == "yes"


@policy_app.command("set")
def policy_set(
    hard_hit: Annotated[
        str | None, typer.Option("--hard-hit", help="Region codes, comma-separated ('' clears).")
    ] = None,
    fever_threshold: Annotated[str | None, typer.Option("--fever-threshold", help="°C, e.g. 37.3")] = None,
    pass_mandatory: Annotated[str | None, typer.Option("--pass-mandatory", help="yes or no")] = None,
    identity_check: Annotated[str | None, typer.Option(help="confirm or id_last4")] = None,
    hard_hit_without_enterprise: Annotated[str | None, typer.Option(help="REFUSE or ESCORT_REQUIRED")] = None,
    escort_wait_limit: Annotated[int | None, typer.Option(help="minutes")] = None,
    max_validity_days: Annotated[int | None, typer.Option(help="longest validity of a pass")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Publish a new signed policy version."""
    changes: dict[str, Any] = {}
    if hard_hit is not None:
        changes["hard_hit"] = [
            ids.validate_region(c) for c in hard_hit.replace("，", ",").split(",") if c.strip()
        ]
    if fever_threshold is not None:
        changes["fever_threshold_c"] = fever_threshold
    if pass_mandatory is not None:
        changes["pass_mandatory"] = _yes_no(pass_mandatory)
    for name, value in (
        ("identity_check", identity_check),
        ("escort_wait_limit_minutes", escort_wait_limit),
        ("hard_hit_without_enterprise", hard_hit_without_enterprise),
        ("max_validity_days", max_validity_days),
    ):
        if value is not None:
            changes[name] = value
    if not changes:
        _fail("nothing to change: give at least one option (see checkpass policy set --help)")
    with _state() as (_settings, session):
        policy = policy_service.set_policy(session=session, changes=changes, now=_now(), by="checkpass cli")
    if as_json:
        _print_json(policy.to_dict())
    else:
        typer.echo(
            f"policy version {policy.version} in force; export a new trust bundle to tell the checkpoints"
        )


@policy_app.command("show")
def policy_show(as_json: JsonFlag = False) -> None:
    """The policy in force."""
    with _state() as (_settings, session):
        policy = policy_service.current(session)
    if as_json:
        _print_json(policy.to_dict())
        return
    for key, value in policy.to_dict().items():
        typer.echo(f"{key}: {value}")


@bundle_app.command("export")
def bundle_export(
    out: Annotated[Path, typer.Option("--out", help="File to write the signed bundle to.")],
) -> None:
    """Write the current signed trust bundle (for a USB stick to an offline checkpoint)."""
    with _state() as (settings, session):
        row = bundles.current(
            session=session,
            root=keyring.load_root(settings),
            validity=timedelta(days=settings.bundle_validity_days),
            now=_now(),
        )
    try:
        out.write_bytes(row.signed)
    except OSError as err:
        _fail(f"cannot write {out}: {err.strerror}")
    typer.echo(
        f"trust bundle version {row.version} ({len(row.signed)} bytes, expires "
        f"{row.expires_at.isoformat()}) written to {out}"
    )


def main() -> None:
    # Typer handles usage errors (exit 2) and typer.Exit itself; our own errors are turned into one line here.
    try:
        app()
    except CheckpassError as err:
        typer.echo(f"checkpass: error: {err.message}", err=True)
        sys.exit(2)
    except AppError as err:
        typer.echo(f"checkpass: error: {err.detail}", err=True)
        sys.exit(2)
    except SQLAlchemyError as err:
        typer.echo(
            f"checkpass: database error: {type(err).__name__}: {str(err).splitlines()[0]}"
            " (run `checkpass init`; is CHECKPASS_DATABASE_URL right?)",
            err=True,
        )
        sys.exit(1)


# Commands kept in their domains add themselves to `app` (they import it, so they come last).
from server.alerts import commands as _alert_commands  # noqa: E402,F401
