"""A manifest file -> a bus's passengers, or every problem row by row (nothing is taken when one row fails).

Columns (a header row, Chinese or English): 姓名 name, 身份证号 id_number, 手机号 phone, 出发地 origin (a region's
code or exact name), 14天行程 travel_history (codes or names separated by ; or 、). Name, ID number and origin are
required columns; phone and travel history may be left out; a 序号 / No. column is ignored; any other column is an
error (a shifted column would otherwise put phones where ID numbers belong). Each row is checked as the API checks
a passenger (server.applications.schemas.Passenger, as new input), and no ID number may come twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from passcore import ids
from passcore.errors import InputError
from server.applications import new_input
from server.applications.schemas import Passenger, error_keys
from server.manifests import regions
from server.manifests.reading import MAX_DATA_ROWS, FileProblem, read_table
from server.web.i18n import translate

__all__ = ["COLUMNS", "HEADERS", "ManifestImport", "RowProblem", "import_manifest"]

COLUMNS = ("name", "id_number", "phone", "origin", "travel_history")
REQUIRED = ("name", "id_number", "origin")
HEADERS = {
    "name": ("姓名", "名字", "name", "full name"),
    "id_number": ("身份证号", "身份证号码", "身份证", "公民身份号码", "id_number", "id number", "id"),
    "phone": ("手机号", "手机号码", "手机", "电话", "联系电话", "phone", "mobile", "phone number"),
    "origin": ("出发地", "始发地", "来源地", "origin", "from"),
    "travel_history": (
        "14天行程",
        "14天旅居史",
        "行程",
        "旅居史",
        "途经地",
        "travel_history",
        "travel history",
        "14-day travel history",
    ),
}
IGNORED = ("序号", "编号", "no", "no.", "#", "number")
_HEADER_KEYS = {_h: column for column, names in HEADERS.items() for _h in names}
_SPLIT = re.compile(r"[;；、,，\s]+")
_FORMULA = ("=", "+", "-", "@")  # what a spreadsheet would run if this text were exported again


def _header_key(text: str) -> str:
    return " ".join(text.replace("_", " ").split()).lower().replace(" ", "") or ""


_KEYS = {_header_key(h): column for h, column in _HEADER_KEYS.items()}
_IGNORED = {_header_key(h) for h in IGNORED}


@dataclass(frozen=True)
class RowProblem:
    """One problem: the file's row number (0: the file or its header), the column, and why (a words key)."""

    row: int
    column: str
    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str) -> str:
        message = _message(self.key, lang, self.values)
        if self.row == 0:
            return message
        column = translate(f"manifest.column.{self.column}", lang) if self.column else ""
        return translate("manifest.row", lang, row=self.row, column=column, message=message)

    def public(self) -> dict[str, Any]:
        """The problem as the API answers it: where, the key, and the sentence in both languages."""
        return {
            "row": self.row,
            "column": self.column,
            "key": self.key,
            "zh": self.text("zh"),
            "en": self.text("en"),
        }


def _message(key: str, lang: str, values: dict[str, Any]) -> str:
    own = translate(f"manifest.invalid.{key}", lang, **values)
    if own != f"manifest.invalid.{key}":
        return own
    shared = translate(f"apps.invalid.{key}", lang)
    return shared if shared != f"apps.invalid.{key}" else translate("apps.invalid.invalid", lang)


@dataclass
class ManifestImport:
    """The passengers (as the application body takes them) when every row is right; else only the problems."""

    passengers: list[dict[str, Any]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.passengers)


def import_manifest(data: bytes, filename: str = "") -> ManifestImport:
    try:
        sheet = read_table(data, filename)
    except FileProblem as err:
        return ManifestImport(problems=[RowProblem(0, "", f"file_{err.key}", err.values)])
    columns, problems = _columns(sheet.header)
    if problems:
        return ManifestImport(problems=problems)
    if not sheet.rows:
        return ManifestImport(problems=[RowProblem(0, "", "file_no_rows")])
    if len(sheet.rows) > MAX_DATA_ROWS:
        return ManifestImport(problems=[RowProblem(0, "", "file_too_many_rows", {"limit": MAX_DATA_ROWS})])
    passengers: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, cells in sheet.rows:
        values = {column: cells[i] if i < len(cells) else "" for i, column in columns.items()}
        found = _row(number, values, {columns[i] for (n, i) in sheet.numeric if n == number and i in columns})
        if isinstance(found, list):
            problems += found
            continue
        if found["id_number"] in seen:
            problems.append(
                RowProblem(number, "id_number", "duplicate_row", {"other": seen[found["id_number"]]})
            )
            continue
        seen[found["id_number"]] = number
        passengers.append(found)
    return ManifestImport(problems=problems) if problems else ManifestImport(passengers=passengers)


def _columns(header: list[str]) -> tuple[dict[int, str], list[RowProblem]]:
    """{column index: field} of the header row, or the problems with it."""
    columns: dict[int, str] = {}
    problems: list[RowProblem] = []
    for index, text in enumerate(header):
        key = _header_key(text)
        if not key or key in _IGNORED:
            continue
        column = _KEYS.get(key)
        if column is None:
            problems.append(RowProblem(0, "", "header_unknown", {"header": text[:40]}))
        elif column in columns.values():
            problems.append(RowProblem(0, "", "header_twice", {"header": text[:40]}))
        else:
            columns[index] = column
    problems += [
        RowProblem(0, "", "header_missing", {"header": f"{HEADERS[c][0]} / {c}"})
        for c in REQUIRED
        if c not in columns.values()
    ]
    return columns, problems


def _row(number: int, values: dict[str, str], numeric: set[str]) -> dict[str, Any] | list[RowProblem]:
    problems: list[RowProblem] = []
    if "id_number" in numeric and len(values.get("id_number", "")) >= 15:
        # Excel keeps 15 significant digits: an ID number typed into a number cell has lost its last ones.
        return [RowProblem(number, "id_number", "id_number_as_number")]
    name = values.get("name", "")
    if name.startswith(_FORMULA):
        problems.append(RowProblem(number, "name", "formula"))
    row: dict[str, Any] = {
        "name": name,
        "id_number": values.get("id_number", ""),
        "phone": values.get("phone", ""),
    }
    try:
        row["origin"] = regions.resolve(values.get("origin", "")) if values.get("origin") else ""
    except InputError as err:
        problems.append(RowProblem(number, "origin", err.code.lower(), {"value": values["origin"][:40]}))
        row["origin"] = "110000"  # a placeholder so the other columns are still checked
    history: list[str] = []
    for place in [p for p in _SPLIT.split(values.get("travel_history", "")) if p]:
        try:
            history.append(regions.resolve(place))
        except InputError as err:
            problems.append(RowProblem(number, "travel_history", err.code.lower(), {"value": place[:40]}))
    row["travel_history"] = history
    if not row["origin"]:
        row.pop("origin")
    if not row["phone"]:
        row.pop("phone")
    try:
        passenger = Passenger.model_validate(row, context=new_input.NEW_INPUT)
    except ValidationError as err:
        for path, key in error_keys(err).items():
            column = path.split(".")[0]
            if column == "id_number" and key == "id_number_invalid":
                key = _id_detail(row["id_number"])
            problems.append(RowProblem(number, column, key))
    else:
        if not problems:
            return passenger.model_dump(mode="json")
    return problems


def _id_detail(text: str) -> str:
    """Which part of an ID number is wrong: its length/shape, or its check digit (the usual typo)."""
    try:
        ids.validate_id_number(text)
    except InputError as err:
        return "id_check_digit" if "check digit" in err.message else "id_number_invalid"
    return "id_number_invalid"
