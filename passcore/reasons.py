"""The release rules' vocabulary: the four outcomes and the stable reason codes, with their words in Chinese and
English.

Codes are a contract (docs/design.md, "Release rules"): add new ones, never rename. Outcomes are listed here once;
the rules, the crossing record, the audit's counts and every screen take them from here.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "ESCORT_REQUIRED",
    "MEDICAL_HOLD",
    "MESSAGES",
    "OUTCOMES",
    "REFUSE",
    "RELEASE",
    "Outcome",
    "describe",
    "outcome_words",
]

Outcome = Literal["RELEASE", "ESCORT_REQUIRED", "REFUSE", "MEDICAL_HOLD"]
RELEASE: Outcome = "RELEASE"
ESCORT_REQUIRED: Outcome = "ESCORT_REQUIRED"
REFUSE: Outcome = "REFUSE"
MEDICAL_HOLD: Outcome = "MEDICAL_HOLD"
# In the order every count, chart and export shows them.
OUTCOMES: tuple[Outcome, ...] = (RELEASE, ESCORT_REQUIRED, REFUSE, MEDICAL_HOLD)

MESSAGES: dict[str, tuple[str, str]] = {
    "PASS_VALID": ("The pass is valid", "通行证有效"),
    "PASS_MALFORMED": (
        "Not a readable vehicle pass (damaged, tampered or another kind of QR code)",
        "不是有效的车辆通行证（损坏、被篡改或非通行证二维码）",
    ),
    "PASS_SIGNATURE_INVALID": (
        "The pass signature does not verify: forged or tampered",
        "通行证签名无效：伪造或被篡改",
    ),
    "PASS_UNKNOWN_KEY": ("The pass is signed by an unknown or retired key", "通行证签发密钥未知或已停用"),
    "PASS_EXPIRED": (
        "The pass has expired; treated as a vehicle without a pass",
        "通行证已过期，按无证车辆处理",
    ),
    "PASS_NOT_YET_VALID": (
        "The pass is not valid yet; treated as a vehicle without a pass",
        "通行证尚未生效，按无证车辆处理",
    ),
    "PASS_REVOKED": ("The pass has been revoked", "通行证已被撤销"),
    "PLATE_MISMATCH": ("The plate does not match the pass", "车牌与通行证不符"),
    "PERSON_MISMATCH": ("The driver's identity does not match the pass", "驾驶员身份与通行证不符"),
    "LICENCE_MISMATCH": ("The driving licence does not match the pass", "驾驶证与通行证不符"),
    "OCCUPANT_NOT_ON_PASS": ("Someone aboard is not on the pass", "车上有人员不在通行证上"),
    "NO_PASS": ("No valid pass", "无有效通行证"),
    "FEVER": ("Fever: temperature at or above the threshold", "发热：体温达到或超过阈值"),
    "HARD_HIT_VEHICLE": ("The vehicle comes from the hard-hit area", "车辆来自重点疫区"),
    "HARD_HIT_PERSON": (
        "Someone aboard comes from or travelled through the hard-hit area",
        "车上人员来自或途经重点疫区",
    ),
    "NO_RECEIVING_ENTERPRISE": ("No enterprise is registered to receive the vehicle", "无接收企业"),
    "PASS_REQUIRED": ("A pass is mandatory under the current policy", "现行政策要求持证通行"),
    # Personnel transport (issue 14): buses and their passenger manifests.
    "MANIFEST_PAGE_VALID": ("The manifest page is genuine", "乘车人员名单页有效"),
    "MANIFEST_VALID": (
        "Every manifest page read; the list matches the pass",
        "乘车人员名单已全部读取，与通行证相符",
    ),
    "MANIFEST_INVALID": (
        "A manifest page is forged, belongs to another pass or does not match the pass",
        "乘车人员名单页伪造、属于其他通行证或与通行证不符",
    ),
    "MANIFEST_INCOMPLETE": ("Manifest pages are missing", "乘车人员名单页不全"),
    "PASSENGER_ABSENT": ("On the manifest but not aboard", "名单上的人员未在车上"),
    "QUARANTINE_BY_ENTERPRISE": (
        "From the hard-hit area with a normal temperature: into the enterprise's quarantine, received by the "
        "manager on board",
        "来自重点疫区、体温正常：由随车管理人员接收，交企业落实隔离",
    ),
    "FEVER_PERSON_HELD": (
        "The person with fever is held; the others go on",
        "发热人员留观，其他人员继续通行",
    ),
    "SEAT_LIMIT_EXCEEDED": (
        "More people aboard than the seat-occupancy limit allows",
        "车上人数超过客座率限制",
    ),
    "PRIORITY_BUS": ("Personnel-transport bus: priority lane", "人员运输车辆：优先通行"),
}

_OUTCOME_WORDS: dict[str, tuple[str, str]] = {
    "RELEASE": ("Release", "放行"),
    "ESCORT_REQUIRED": ("Escort required: the enterprise must take the vehicle over", "需企业派人接车"),
    "REFUSE": ("Refuse", "劝返"),
    "MEDICAL_HOLD": ("Medical hold: nobody is released", "医学留观：暂不放行"),
}


def describe(code: str, lang: str = "en") -> str:
    english, chinese = MESSAGES.get(code, (code, code))
    return chinese if lang == "zh" else english


def outcome_words(outcome: str, lang: str = "en") -> str:
    english, chinese = _OUTCOME_WORDS.get(outcome, (outcome, outcome))
    return chinese if lang == "zh" else english
