"""A bus of 45 for the screen's tests (bus_helpers.py is the server's): a personnel-transport pass and its signed manifest pages (issue 14)."""

from __future__ import annotations

from passcore import manifest
from passcore.claims import Bus, Person
from tests import factories

MANAGER = Person("王经理", "320583********2345")
HARD_HIT = "420100"  # Wuhan: the tests' policy makes 420000 a hard-hit area
HOME = "411502"  # Xinyang: where the workers come from


def passengers(count: int = 45, *, hard_hit: tuple[int, ...] = ()) -> tuple[manifest.Passenger, ...]:
    """``count`` workers numbered from 1; those numbered in ``hard_hit`` passed through Wuhan."""
    people = []
    for n in range(1, count + 1):
        history = (HOME, HARD_HIT) if n in hard_hit else (HOME,)
        people.append(manifest.Passenger(f"工人{n:02d}", f"411502********{n:04d}", HOME, history))
    return tuple(people)


def bus_pass(key, people, *, seats: int = 100, pass_id: str = "0123456789abcdef01234567", per_page: int = 9):
    """(pass text, page texts, claims) of a bus pass for ``people`` signed with ``key``."""
    bus = Bus(
        seats=seats,
        departure="信阳汽车站",
        arrival="昆山汽车南站",
        manager=MANAGER,
        digest=manifest.digest(people),
        pages=manifest.page_count(len(people), per_page),
        passengers=len(people),
    )
    claims = factories.make_claims(escorts=(), bus=bus, pass_id=pass_id)
    text = factories.signed(claims, key)[0]
    return text, manifest.encode_pages(claims, people, key, per_page=per_page), claims
