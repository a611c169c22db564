"""`checkpass policy …`: the release policy — each change publishes a new signed version."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from passcore.errors import InputError
from server.cli.plumbing import JsonFlag, fail, now, print_json, state
from server.policy import service as policy_service
from server.regions import table as regions

__all__ = ["app"]

app = typer.Typer(help="The release policy.", no_args_is_help=True)


# The command line's spelling of the policy's values (the policy keeps the reason-code style).
_BUS_FEVER = {"hold-bus": "HOLD_BUS", "release-others": "RELEASE_OTHERS"}


def _yes_no(value: str) -> bool:
    if value.lower() not in ("yes", "no"):
        raise InputError("--pass-mandatory takes yes or no", code="POLICY_INVALID")
    return value.lower() == "yes"


@app.command("set")
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
    pass_misuse: Annotated[
        str | None,
        typer.Option(
            "--pass-misuse", help="refuse, or as_no_pass (judged as a vehicle without a pass, alerted)"
        ),
    ] = None,
    repeat_window: Annotated[
        int | None,
        typer.Option("--repeat-window", help="minutes (1-1440): a pass decided again within is a repeat"),
    ] = None,
    fever_referral: Annotated[
        list[str] | None,
        typer.Option(
            "--fever-referral",
            help="where people with fever may be sent; repeat for each place (at most 10); '' alone clears",
        ),
    ] = None,
    bus_fever: Annotated[
        str | None,
        typer.Option(
            "--bus-fever",
            help="a fever aboard a bus: hold-bus (the whole bus waits) or release-others (the person is held)",
        ),
    ] = None,
    bus_occupancy: Annotated[
        int | None,
        typer.Option("--bus-occupancy", help="seat occupancy limit 客座率, percent of the seats (1-100)"),
    ] = None,
    quarantine_hours: Annotated[
        int | None,
        typer.Option(
            "--quarantine-hours", help="hours (1-720) an enterprise has to confirm a quarantine arrival"
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Publish a new signed policy version."""
    changes: dict[str, Any] = {}
    if hard_hit is not None:
        changes["hard_hit"] = [
            regions.check_exists(c) for c in hard_hit.replace("，", ",").split(",") if c.strip()
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
        ("pass_misuse", pass_misuse),
        ("repeat_window_minutes", repeat_window),
    ):
        if value is not None:
            changes[name] = value
    if fever_referral is not None:
        changes["fever_referrals"] = [place for place in fever_referral if place.strip()]
    if bus_fever is not None:
        if bus_fever.strip().lower() not in _BUS_FEVER:
            fail("--bus-fever takes hold-bus or release-others")
        changes["bus_fever"] = _BUS_FEVER[bus_fever.strip().lower()]
    if bus_occupancy is not None:
        changes["bus_occupancy_percent"] = bus_occupancy
    if quarantine_hours is not None:
        changes["quarantine_confirm_hours"] = quarantine_hours
    if not changes:
        fail("nothing to change: give at least one option (see checkpass policy set --help)")
    with state() as (_settings, session):
        policy = policy_service.set_policy(session=session, changes=changes, now=now(), by="checkpass cli")
    if as_json:
        print_json(policy.to_dict(every_knob=True))
    else:
        typer.echo(
            f"policy version {policy.version} in force; export a new trust bundle to tell the checkpoints"
        )


@app.command("show")
def policy_show(as_json: JsonFlag = False) -> None:
    """The policy in force."""
    with state() as (_settings, session):
        policy = policy_service.current(session)
    if as_json:
        print_json(policy.to_dict(every_knob=True))
        return
    for key, value in policy.to_dict(every_knob=True).items():
        typer.echo(f"{key}: {value}")
