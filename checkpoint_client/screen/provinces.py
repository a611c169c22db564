"""The plate's province keys on the screen, ordered for this checkpoint: its own province, then its neighbours,
then the rest. Most vehicles at a checkpoint come from near it, so the keys an officer needs are the first ones
(1–9 on the keyboard). The abbreviations are passcore.ids.PROVINCES: a key the plate rule would refuse is never
offered (使/领 plates are not plates passcore accepts)."""

from __future__ import annotations

from passcore import ids

__all__ = ["NEIGHBOURS", "ordered"]

# Provinces sharing a land border (a vehicle from next door is the common case), nearest traffic first.
NEIGHBOURS: dict[str, str] = {
    "京": "冀津", "津": "京冀", "冀": "京津鲁豫晋蒙辽", "晋": "冀豫陕蒙", "蒙": "冀晋辽吉黑陕宁甘",
    "辽": "吉冀蒙", "吉": "辽黑蒙", "黑": "吉蒙",
    "沪": "苏浙", "苏": "沪浙皖鲁", "浙": "沪苏皖赣闽", "皖": "苏浙鄂豫鲁赣", "闽": "浙赣粤",
    "赣": "浙皖闽粤湘鄂", "鲁": "苏冀豫皖",
    "豫": "冀鲁皖鄂陕晋", "鄂": "豫皖赣湘渝陕", "湘": "鄂赣粤桂贵渝", "粤": "闽赣湘桂琼", "桂": "粤湘贵云",
    "琼": "粤",
    "渝": "川鄂湘贵陕", "川": "渝贵云藏青甘陕", "贵": "川渝湘桂云", "云": "川贵桂藏", "藏": "新青川云",
    "陕": "晋豫鄂渝川甘宁蒙", "甘": "陕宁青新川蒙", "青": "甘新藏川", "宁": "陕甘蒙", "新": "甘青藏",
}  # fmt: skip
_BY_CODE = {code: abbreviation for abbreviation, code in ids.PROVINCES.items()}


def ordered(region: str | None) -> list[str]:
    """All 31 abbreviations: ``region``'s province (a six-digit region code, or None) and its neighbours first."""
    home = _BY_CODE.get((region or "")[:2])
    first = [home, *NEIGHBOURS[home]] if home else []
    return first + [p for p in ids.PROVINCES if p not in first]
