"""The manifest templates to download: the header row and one example row, as CSV and as XLSX.

The CSV is UTF-8 with a BOM, so that Excel opens the Chinese headers right. The XLSX formats the ID number and
phone columns as text for the rows a bus can have: typed into a number cell, an 18-digit ID number loses digits.
"""

from __future__ import annotations

import csv
import io

from server.manifests.importing import COLUMNS
from server.manifests.reading import MAX_DATA_ROWS
from server.web.i18n import translate

__all__ = ["EXAMPLE", "csv_template", "xlsx_template"]

# A made-up person (the check digit is right; 19900101 is no one's on record here).
EXAMPLE = ("张三", "411502199001010015", "13900000000", "411502", "411502;420100")
_TEXT_COLUMNS = ("B", "C")  # id_number, phone


def _header(lang: str) -> list[str]:
    return [translate(f"manifest.header.{column}", lang) for column in COLUMNS]


def csv_template(lang: str = "zh") -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(_header(lang))
    writer.writerow(EXAMPLE)
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def xlsx_template(lang: str = "zh") -> bytes:
    from openpyxl import Workbook  # only when a template is asked for

    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = "manifest" if lang == "en" else "乘客名单"
    sheet.append(_header(lang))
    sheet.append(list(EXAMPLE))
    for letter in _TEXT_COLUMNS:
        for row in range(2, MAX_DATA_ROWS + 2):
            sheet[f"{letter}{row}"].number_format = "@"
    for letter, width in zip("ABCDE", (12, 22, 16, 12, 24), strict=True):
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
