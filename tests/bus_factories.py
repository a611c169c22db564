"""Bus applications for tests (issue 14): valid ID numbers made up by the dozen, and a personnel body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.factories import DRIVER_ID, USCC

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
MANAGER_ID = "320583198801013215"
XINYANG = "411500"  # 信阳市: the passengers' home in these tests
WUHAN = "420100"


def id_number(region: str, birth: str, sequence: int) -> str:
    """A GB 11643 ID number with a right check digit: ``region`` (6 digits), ``birth`` (YYYYMMDD), 1..999."""
    body = f"{region}{birth}{sequence:03d}"
    return body + _CHECK[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


def passengers(count: int, *, region: str = XINYANG, origin: str = XINYANG) -> list[dict[str, Any]]:
    return [
        {
            "name": f"乘客{n + 1}",
            "id_number": id_number(region, "19900101", n + 1),
            "phone": f"139{n:08d}",
            "origin": origin,
            "travel_history": [origin],
        }
        for n in range(count)
    ]


def bus_body(
    count: int = 20, *, seats: int = 53, start: datetime | None = None, **changes: Any
) -> dict[str, Any]:
    """A personnel-transport application of the factories' enterprise: ``count`` passengers on a bus of ``seats``."""
    start = start or datetime(2026, 2, 10, 8, tzinfo=UTC)
    return {
        "kind": "personnel",
        "enterprise": {"name": "昆山精密机械有限公司", "uscc": USCC},
        "vehicle": {"plate": "豫S·B1234", "plate_colour": "yellow"},
        "driver": {
            "name": "赵师傅",
            "id_number": DRIVER_ID,
            "licence_number": DRIVER_ID,
            "phone": "13800000000",
        },
        "escorts": [],
        "origin": XINYANG,
        "destination": "320583",
        "travel_history": [],
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(days=3)).isoformat(),
        "bus": {
            "seats": seats,
            "departure": "信阳汽车站",
            "arrival": "昆山汽车南站",
            "manager": {"name": "周经理", "id_number": MANAGER_ID, "phone": "13912345678"},
        },
        "passengers": passengers(count),
    } | changes
