"""An uploaded manifest file -> rows of text cells, refusing what is not a small plain table.

CSV is read as UTF-8 (with or without the BOM Excel writes) or else GB18030 (what Chinese Excel saves "CSV" as).
XLSX is read with openpyxl in read-only mode, values only (a formula's stored result; nothing is evaluated), after
the zip itself is checked: bounded entries and sizes (no zip bomb), no macros (vbaProject), no DTD in any XML part
(no entity expansion). Everything is bounded: the file (MAX_FILE_BYTES), the rows read (a header and
MAX_DATA_ROWS + 1, so that one too many is reported), the columns (MAX_COLUMNS).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from server.applications.schemas import MAX_PASSENGERS

__all__ = [
    "MAX_COLUMNS",
    "MAX_DATA_ROWS",
    "MAX_FILE_BYTES",
    "FileProblem",
    "Sheet",
    "read_table",
]

MAX_FILE_BYTES = 512 * 1024  # a 100-row manifest is ~10 kB; under the API's 1 MiB body limit with room
MAX_DATA_ROWS = MAX_PASSENGERS
MAX_COLUMNS = 12
MAX_CELL = 200  # longer than any field allows: the schema reports it as too long, nothing is cut silently
# The zip inside an XLSX: a template-sized workbook has ~10 parts of a few kB; these are generous bounds.
_MAX_ENTRIES = 64
_MAX_UNPACKED = 16 * 1024 * 1024
_MAX_RATIO = 200
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls (and .et/.wps): not read


class FileProblem(Exception):
    """The file as a whole cannot be read; ``key`` names why (a words key: ``manifest.file.<key>``)."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass
class Sheet:
    """The header cells and the data rows, each with its row number in the file (1 = the header's)."""

    header: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    # (row, column index) of cells an XLSX stored as numbers: an 18-digit ID number does not survive that.
    numeric: set[tuple[int, int]] = field(default_factory=set)


def read_table(data: bytes, filename: str = "") -> Sheet:
    """The table of an uploaded CSV or XLSX file (by its content, not its name); FileProblem otherwise."""
    if not data.strip():
        raise FileProblem("empty")
    if len(data) > MAX_FILE_BYTES:
        raise FileProblem("too_large", limit_kib=MAX_FILE_BYTES // 1024)
    if data.startswith(_OLE_MAGIC):
        raise FileProblem("old_excel")
    if data.startswith(_XLSX_MAGIC):
        return _sheet(_xlsx_rows(data))
    if filename.lower().endswith((".xlsx", ".xlsm", ".xls")):
        raise FileProblem("not_xlsx")
    return _sheet((number, cells, set()) for number, cells in _csv_rows(data))


def _sheet(rows: Iterator[tuple[int, list[str], set[int]]]) -> Sheet:
    """Blank rows skipped; the first non-blank one is the header; at most MAX_DATA_ROWS + 1 data rows kept."""
    sheet: Sheet | None = None
    for number, cells, numeric in rows:
        if not any(cells):
            continue
        if sheet is None:
            sheet = Sheet(header=cells)
            continue
        sheet.rows.append((number, cells))
        sheet.numeric |= {(number, column) for column in numeric}
        if len(sheet.rows) > MAX_DATA_ROWS:
            break  # one too many is enough to say so; the rest is not read
    if sheet is None:
        raise FileProblem("empty")
    return sheet


# --- CSV ------------------------------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="strict") if _valid(data[3:], "utf-8") else None
    else:
        text = next((data.decode(c) for c in ("utf-8", "gb18030") if _valid(data, c)), None)
    if text is None:
        raise FileProblem("encoding")
    if "\x00" in text:  # a binary file that happened to decode
        raise FileProblem("not_table")
    return text


def _valid(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    text = _decode(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        for cells in reader:
            yield reader.line_num, [_clip(c) for c in cells[:MAX_COLUMNS]]
    except csv.Error as err:
        raise FileProblem("not_table") from err


def _clip(text: str) -> str:
    return text.strip()[: MAX_CELL + 1]


# --- XLSX -----------------------------------------------------------------------------------------------------


def _check_zip(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise FileProblem("not_xlsx") from err
    with archive:
        entries = archive.infolist()
        if len(entries) > _MAX_ENTRIES:
            raise FileProblem("not_xlsx")
        if sum(e.file_size for e in entries) > _MAX_UNPACKED or any(
            e.file_size > _MAX_RATIO * max(e.compress_size, 1) for e in entries
        ):
            raise FileProblem("zip_bomb")
        names = {e.filename.lower() for e in entries}
        if any(name.endswith("vbaproject.bin") for name in names):
            raise FileProblem("macros")
        if "[content_types].xml" not in names:
            raise FileProblem("not_xlsx")
        for entry in entries:
            if entry.filename.lower().endswith((".xml", ".rels")):
                with archive.open(entry) as part:
                    head = part.read(_MAX_UNPACKED)
                if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                    raise FileProblem("not_xlsx")


def _cell(value: Any) -> tuple[str, bool]:
    """(the cell as text, whether it was stored as a number)."""
    if value is None:
        return "", False
    if isinstance(value, bool):
        return str(value), False
    if isinstance(value, int):
        return str(value), True
    if isinstance(value, float | Decimal):
        if value == int(value):
            return str(int(value)), True
        return str(value), True
    if isinstance(value, datetime | date | time):
        return value.isoformat(), False
    return _clip(str(value)), False


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str], set[int]]]:
    _check_zip(data)
    from openpyxl import load_workbook  # only when an XLSX comes: the server starts without loading it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as err:  # openpyxl raises many kinds on a malformed workbook; all mean "not an XLSX"
        raise FileProblem("not_xlsx") from err
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise FileProblem("empty")
        limit = MAX_DATA_ROWS + 20  # blank rows between are skipped, up to a point
        for number, values in enumerate(
            sheet.iter_rows(max_col=MAX_COLUMNS, max_row=limit + 1, values_only=True), start=1
        ):
            cells = [_cell(v) for v in values]
            yield number, [text for text, _ in cells], {i for i, (_, numeric) in enumerate(cells) if numeric}
    except FileProblem:
        raise
    except Exception as err:
        raise FileProblem("not_xlsx") from err
    finally:
        book.close()
