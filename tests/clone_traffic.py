"""A simulated day of checkpoint traffic with planted cloned passes, for the cloned-pass check: the benchmark
(bench/bench_clones.py) runs a full day, the integration test (tests/integration/test_clone_day.py) a small one.

20 checkpoints with their real coordinates around Suzhou, Kunshan and Shanghai (4 to 110 km apart), two laptops
each whose clocks are off by up to 2.5 minutes either way. Each vehicle has a pass and a home checkpoint; it drives
a route of one to four checkpoints (each leg at a plausible road speed over a road longer than the straight line;
one leg in seven a fast drive on a straight expressway, up to 135 km/h), often comes back the same day, sometimes
makes a second trip. At a checkpoint it may be decided again within minutes (the pass still in the camera's view,
another lane) or held for a fever and re-measured later (a record with ``repeat_of``). Then ``clones`` passes
are copied: the copy is seen once at a checkpoint at least 40 km from where the original was, so soon before or
after that no vehicle could be at both — with margin for the audit's allowances and the clocks.

Every record is a real decision (``server.demo.crossings.decide_record``) on a pass the server issued, uploaded
through the real ingest (``server.crossings.service.ingest``) by each laptop every 30 minutes, a few laptops
offline all day and syncing the next morning: the audit runs as it runs in production, batch by batch.
"""

from __future__ import annotations

import json
import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from passcore import crossing, trust
from passcore.chain import GENESIS
from server.alerts import rules
from server.alerts.facts import Limits
from server.alerts.models import Alert
from server.applications.schemas import parse_application
from server.bundles import service as bundles
from server.checkpoints import service as checkpoints
from server.checkpoints.models import Device
from server.config import Settings
from server.crossings import service as crossings
from server.demo.crossings import decide_record
from server.keyring import service as keyring
from server.passes import service as passes
from server.policy import service as policy_service

# name, region, latitude, longitude (toll stations and national-road checkpoints, to three decimals).
SITES = (
    ("G312 昆山东卡口", "320583", 31.386, 120.981),
    ("G2 苏州西卡口", "320505", 31.320, 120.453),
    ("G2 花桥卡口", "320583", 31.305, 121.104),
    ("G2 安亭卡口", "310114", 31.299, 121.165),
    ("S17 常熟卡口", "320581", 31.654, 120.752),
    ("G15 太仓卡口", "320585", 31.458, 121.130),
    ("G1522 吴江卡口", "320509", 31.160, 120.645),
    ("G2 园区卡口", "320506", 31.317, 120.728),
    ("G2 苏州东卡口", "320508", 31.342, 120.695),
    ("G2 无锡东卡口", "320214", 31.576, 120.409),
    ("S17 相城卡口", "320507", 31.420, 120.620),
    ("G15 张家港卡口", "320582", 31.860, 120.550),
    ("S5 千灯卡口", "320583", 31.262, 120.960),
    ("S58 周庄卡口", "320583", 31.117, 120.850),
    ("G50 青浦卡口", "310118", 31.150, 121.120),
    ("S5 嘉定卡口", "310114", 31.375, 121.250),
    ("G2 虹桥卡口", "310112", 31.230, 121.320),
    ("G60 松江卡口", "310117", 31.030, 121.220),
    ("G60 嘉善卡口", "330421", 30.860, 120.920),
    ("G312 阳澄湖卡口", "320583", 31.430, 120.820),
)
LANES = 2  # laptops per checkpoint
CLOCK_OFF = timedelta(minutes=2.5)  # each laptop's clock within this of the true time
CLONE_MIN_KM = 40
SYNC = timedelta(minutes=30)
OFFLINE = 3  # laptops that sync only the next morning
USCC = "91320583MA1XY71231"


def distance(a: int, b: int) -> float:
    return rules.haversine_km(SITES[a][2], SITES[a][3], SITES[b][2], SITES[b][3])


@dataclass
class Event:
    """A vehicle decided at a checkpoint: the truth the simulation knows and the audit must find."""

    vehicle: int
    site: int
    at: datetime  # true time
    lane: int
    kind: str  # trip, repeat, fever, remeasure, clone
    temperature: float = 36.5
    repeat_of: int | None = None  # the event this one re-decides
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Day:
    events: list[Event]
    clones: set[str]  # ids of the planted clone records
    clocks: dict[tuple[int, int], timedelta]  # (site, lane) -> how far the laptop's clock is off
    start: datetime

    def count(self, kind: str) -> int:
        return sum(e.kind == kind for e in self.events)


def _leg(rng: random.Random, a: int, b: int) -> timedelta:
    if rng.random() < 1 / 7:  # a straight expressway, driven fast
        detour, speed = rng.uniform(1.05, 1.15), rng.uniform(105, 135)
    else:
        detour, speed = rng.uniform(1.15, 1.6), rng.uniform(40, 100)
    return timedelta(hours=distance(a, b) * detour / speed)


def _route(rng: random.Random, home: int) -> list[int]:
    route = [home]
    for _ in range(rng.choices((0, 1, 2, 3), weights=(30, 30, 25, 15))[0]):
        onward = [s for s in range(len(SITES)) if s not in route and 4 <= distance(route[-1], s) <= 60]
        if not onward:
            break
        route.append(rng.choice(onward))
    return route


def _drive(rng: random.Random, vehicle: int, route: list[int], at: datetime, events: list[Event]) -> datetime:
    """The vehicle's sightings along ``route`` from ``at``; returns when it arrives at the last one."""
    for i, site in enumerate(route):
        if i:
            at += _leg(rng, route[i - 1], site)
        lane = rng.randrange(LANES)
        seen = Event(vehicle, site, at, lane, "trip")
        events.append(seen)
        if rng.random() < 0.02:  # a fever: held, re-measured later, released
            seen.kind, seen.temperature = "fever", round(rng.uniform(38.0, 38.9), 1)
            at += timedelta(minutes=rng.uniform(10, 40))
            events.append(Event(vehicle, site, at, lane, "remeasure", 36.9, repeat_of=len(events) - 1))
        if rng.random() < 0.08:  # decided again: the pass still in view, another lane, an officer's doubt
            for _ in range(rng.randint(1, 3)):
                at += timedelta(minutes=rng.uniform(0.3, 8))
                events.append(Event(vehicle, site, at, rng.randrange(LANES), "repeat"))
    return at


def simulate(*, vehicles: int, clones: int, seed: int, start: datetime, reach: rules.Reach) -> Day:
    """One day from ``start`` (local midnight): ``vehicles`` passes, ``clones`` of them copied once."""
    rng = random.Random(seed)
    events: list[Event] = []
    for vehicle in range(vehicles):
        here = rng.randrange(len(SITES))  # home, to begin with
        at = start + timedelta(hours=rng.uniform(5, 16))
        for trip in range(2):
            if trip and rng.random() > 0.2:
                break
            route = _route(rng, here)
            at = _drive(rng, vehicle, route, at, events)
            here = route[-1]
            if rng.random() < 0.6:  # back the same day
                at = _drive(rng, vehicle, route[::-1], at + timedelta(hours=rng.uniform(1, 6)), events)
                here = route[0]
            at += timedelta(hours=rng.uniform(0.5, 3))
    planted = set()
    originals = [e for e in events if e.kind == "trip"]
    for vehicle in rng.sample(sorted({e.vehicle for e in originals}), clones):
        seen = rng.choice([e for e in originals if e.vehicle == vehicle])
        far = [s for s in range(len(SITES)) if distance(seen.site, s) >= CLONE_MIN_KM]
        site = rng.choice(far)
        # The least time apart a vehicle could explain, less the audit's allowance and two clocks' disagreement;
        # the copy is seen well within it.
        least = timedelta(hours=(distance(seen.site, site) - reach.slack_km) / reach.max_speed_kmh)
        margin = least - reach.clock_skew - 2 * CLOCK_OFF
        copy = Event(vehicle, site, seen.at + margin * rng.uniform(-0.5, 0.5), rng.randrange(LANES), "clone")
        events.append(copy)
        planted.add(copy.id)
    clocks = {
        (site, lane): max(-CLOCK_OFF, min(CLOCK_OFF, timedelta(minutes=rng.gauss(0, 1))))
        for site in range(len(SITES))
        for lane in range(LANES)
    }
    return Day(events, planted, clocks, start)


# ---- the server's side -----------------------------------------------------------------------------------------


@dataclass
class World:
    """What the server holds for the day: a device per laptop, a pass per vehicle, the bundle they decide with."""

    devices: dict[tuple[int, int], Device]
    fleet: list[tuple[str, str]]  # (QR text, plate) per vehicle
    bundle: trust.TrustBundle


def _application(number: int, start: datetime) -> dict[str, Any]:
    driver = "320583198503121234"
    return {
        "enterprise": {"name": "昆山精密机械有限公司", "uscc": USCC},
        "vehicle": {"plate": f"苏E·{number:05d}", "plate_colour": "blue"},
        "driver": {"name": "张伟", "id_number": driver, "licence_number": driver, "phone": "13800000000"},
        "escorts": [],
        "origin": "320583",
        "destination": "320583",
        "travel_history": [],
        "cargo": "精密零部件",
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(days=14)).isoformat(),
    }


def prepare(session: Session, settings: Settings, day: Day, vehicles: int) -> World:
    """Checkpoints and laptops, a pass per vehicle issued the hour before the day, the bundle of that moment.
    Keys and a policy must exist from before then."""
    before = day.start - timedelta(hours=1)
    policy = policy_service.current(session)
    signer = keyring.active_issuer(session=session, settings=settings)
    fleet = []
    for number in range(vehicles):
        issued = passes.issue(
            session=session,
            application=parse_application(_application(number, before)),
            signer=signer,
            policy=policy,
            issuer_region=settings.issuer_region,
            now=before,
        )
        fleet.append((issued.qr_text, issued.claims.plate))
    row = bundles.current(
        session=session,
        root=keyring.load_root(settings),
        validity=timedelta(days=settings.bundle_validity_days),
        now=before,
    )
    bundle = trust.load_bundle(bytes(row.signed), root=keyring.load_root(settings).public, now=None)
    devices = {}
    for site, (name, region, lat, lon) in enumerate(SITES):
        checkpoint = checkpoints.register_checkpoint(
            session=session, name=name, region=region, location="", latitude=lat, longitude=lon, now=before
        )
        for lane in range(LANES):
            device = Device(
                id=secrets.token_hex(16),
                checkpoint_id=checkpoint.id or 0,
                name=f"{name} {lane + 1} 号车道",
                enrolled_at=before - timedelta(days=30),
            )
            session.add(device)
            devices[site, lane] = device
    session.commit()
    return World(devices, fleet, bundle)


def records(day: Day, world: World) -> dict[tuple[int, int], list[tuple[datetime, dict[str, Any]]]]:
    """Each laptop's hash-chained records in the order it decided them, with the true time of each."""
    by_laptop: dict[tuple[int, int], list[Event]] = {}
    for event in day.events:
        by_laptop.setdefault((event.site, event.lane), []).append(event)
    out = {}
    for laptop, events in by_laptop.items():
        chained, seq, last = [], 0, GENESIS
        for event in sorted(events, key=lambda e: e.at):
            text, plate = world.fleet[event.vehicle]
            scenario = {
                "pass": text,
                "observed": {"plate": plate, "identity_confirmed": True, "licence_confirmed": True},
                "vehicle_origin": "320583",
                "occupants": [
                    {"role": "driver", "name": "张伟", "temperature_c": event.temperature, "origin": "320583"}
                ],
            }
            contents = decide_record(scenario, world.bundle, event.at + day.clocks[laptop])
            if event.repeat_of is not None:
                contents["repeat_of"] = day.events[event.repeat_of].id
            seq += 1
            record = crossing.link(contents, record_id=event.id, seq=seq, prev_hash=last)
            last = record["hash"]
            chained.append((event.at, record))
        out[laptop] = chained
    return out


def uploads(
    day: Day, chained: dict[tuple[int, int], list[tuple[datetime, dict[str, Any]]]], seed: int
) -> list[tuple[datetime, tuple[int, int], list[dict[str, Any]]]]:
    """(when, laptop, batch) in the order the server receives them: each laptop every 30 minutes from its own
    moment, the offline ones all at once the next morning."""
    rng = random.Random(seed + 1)
    offline = set(rng.sample(sorted(chained), min(OFFLINE, len(chained))))
    morning = day.start + timedelta(days=1, hours=8)
    sent = []
    for laptop, items in chained.items():
        if laptop in offline:
            sent.append((morning, laptop, [record for _, record in items]))
            continue
        phase = timedelta(minutes=rng.uniform(0, 30))
        batches: dict[datetime, list[dict[str, Any]]] = {}
        for at, record in items:
            slots = (at - day.start - phase) // SYNC + 1
            batches.setdefault(day.start + phase + slots * SYNC, []).append(record)
        sent += [(when, laptop, batch) for when, batch in batches.items()]
    return sorted(sent, key=lambda item: (item[0], item[1]))


def ingest_day(
    session: Session,
    world: World,
    sent: list[tuple[datetime, tuple[int, int], list[dict[str, Any]]]],
    limits: Limits,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Every upload through the real ingest (which runs the audit); returns how many records were accepted."""
    accepted = 0
    for number, (when, laptop, batch) in enumerate(sent):
        outcomes = crossings.ingest(
            session=session, device=world.devices[laptop], records=batch, now=when, limits=limits
        )
        accepted += sum(o.status == "accepted" for o in outcomes)
        if progress:
            progress(number)
    return accepted


@dataclass(frozen=True)
class Score:
    alerts: int
    true_alerts: int  # alerts naming a planted clone
    false_alerts: int
    found: int  # planted clones named by at least one alert
    missed: int
    false_pairs: list[tuple[str, str]]


def score(session: Session, day: Day) -> Score:
    pairs = [
        (crossing_id, other)
        for crossing_id, other in session.exec(
            select(Alert.crossing_id, Alert.detail).where(col(Alert.kind) == rules.CLONED_PASS)
        )
    ]
    named = [(a or "", json.loads(d).get("other_crossing_id") or "") for a, d in pairs]
    true = [p for p in named if day.clones & set(p)]
    false = [p for p in named if not day.clones & set(p)]
    found = {c for p in true for c in p if c in day.clones}
    return Score(len(named), len(true), len(false), len(found), len(day.clones) - len(found), false)
