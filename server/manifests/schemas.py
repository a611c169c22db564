"""What the manifest import answers: the passengers as an application body takes them, or the problems per row."""

from __future__ import annotations

from pydantic import BaseModel, Field

from server.applications.schemas import Passenger

__all__ = ["ManifestProblem", "ManifestResult"]


class ManifestProblem(BaseModel):
    row: int = Field(description="the file's row number (1 = the header); 0 = the file or its header")
    column: str = Field(description="name, id_number, phone, origin, travel_history; empty for the file")
    key: str = Field(description="a stable key, e.g. id_check_digit, region_unknown, duplicate_row")
    zh: str = Field(description="the problem in Chinese: 第 3 行：身份证号：身份证号校验位不符")
    en: str = Field(description="the problem in English: row 3: ID number: ID number check digit wrong")


class ManifestResult(BaseModel):
    passengers: list[Passenger] = Field(description="every row, in order (empty when any row has a problem)")
    problems: list[ManifestProblem] = Field(description="empty when the file was taken")
