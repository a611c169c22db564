"""The demo's chartered bus (issue 14): twelve workers of 昆山精密机械有限公司 coming back from Xinyang (站到站,
信阳汽车站 → 昆山汽车南站) with the enterprise's manager on board. One of them spent the last fortnight in Wuhan
(the demo's hard-hit area), so the demo scenario releases him into the enterprise's quarantine; one missed the
bus. Its pass is issued by `checkpass demo` with the other demo passes, its manifest pages beside it
(``demo-out/bus/manifest.txt``, one page a line, and the pages of ``pass.pdf``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from stdnum.cn import ric

__all__ = ["BUS_PLATE", "application", "id_number", "scenario"]

BUS_PLATE = "豫S·B2020"
HOME, WUHAN = "411502", "420100"  # 信阳市浉河区; 武汉市 (Hubei is hard-hit in the demo)
_BIRTH_PLACE = "413001"  # 信阳市 as ID numbers issued before 1998 write it
_NAMES = (
    "王德明",
    "李秀英",
    "张志强",
    "刘丽娟",
    "陈海燕",
    "杨文博",
    "黄春梅",
    "赵国庆",
    "吴晓东",
    "周桂兰",
    "徐磊",
    "孙静",
)
FROM_WUHAN, NOT_ABOARD = 4, 9  # passenger numbers (1-based) as the manifest lists them


def id_number(n: int) -> str:
    """A made-up but well-formed resident ID number (GB 11643): born in Xinyang, a birthday per person."""
    born = date(1972, 3, 1) + timedelta(days=311 * (n % 40))  # born before 1998, as the birth place says
    body = f"{_BIRTH_PLACE}{born:%Y%m%d}{n:03d}"
    return body + ric.calc_check_digit(body + "0")  # calc_check_digit ignores the last character it is given


def _passengers() -> list[dict[str, Any]]:
    rows = []
    for n, name in enumerate(_NAMES, start=1):
        region = WUHAN if n == FROM_WUHAN else HOME
        rows.append(
            {
                "name": name,
                "id_number": id_number(n),
                "phone": f"1378880{n:04d}",
                "origin": region,
                "travel_history": [region],
            }
        )
    return rows


def application(window: dict[str, str]) -> dict[str, Any]:
    """The bus's application body (as the portal's form or `checkpass issue` takes it), valid in ``window``."""
    return {
        "kind": "personnel",
        "enterprise": {"name": "昆山精密机械有限公司", "uscc": "91320583MA1XY71231"},
        "vehicle": {"plate": BUS_PLATE, "plate_colour": "yellow"},
        "driver": {
            "name": "马师傅",
            "id_number": id_number(90),
            "licence_number": id_number(90),
            "phone": "13700000090",
        },
        "escorts": [],
        "origin": HOME,
        "destination": "320583",
        "travel_history": [HOME],
        "bus": {
            "seats": 53,
            "departure": "信阳汽车站",
            "arrival": "昆山汽车南站",
            "manager": {"name": "陈经理", "id_number": id_number(91), "phone": "13900000091"},
        },
        "passengers": _passengers(),
    } | window


def scenario(pass_text: str, pages: list[str], arrived_at: datetime) -> dict[str, Any]:
    """`checkpoint decide`'s file for the bus: every page read, everyone aboard normal but one absent."""
    return {
        "pass": pass_text,
        "manifest": pages,
        "observed": {"plate": BUS_PLATE, "identity_confirmed": True, "licence_confirmed": True},
        "occupants": [
            {"role": "driver", "name": "马师傅", "temperature_c": 36.6},
            {"role": "manager", "name": "陈经理", "temperature_c": 36.4},
        ],
        "roll": [
            {"n": n, "aboard": n != NOT_ABOARD, "temperature_c": None} for n in range(1, len(_NAMES) + 1)
        ],
        "arrived_at": arrived_at.isoformat(),
    }
