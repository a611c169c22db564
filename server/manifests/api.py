"""The manifest's JSON API: the templates to download, and a file read into passengers (nothing is stored)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import JSONResponse, Response

from server.accounts.models import ROLE_ENTERPRISE, User
from server.deps import CurrentUser, require
from server.manifests import templates
from server.manifests.importing import import_manifest
from server.manifests.reading import MAX_FILE_BYTES
from server.manifests.schemas import ManifestResult

__all__ = ["api", "template_response"]

api = APIRouter(prefix="/api/v1/manifests", tags=["manifests"])
_Lang = Annotated[str, Query(pattern="^(zh|en)$", description="the header row's language")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def template_response(kind: str, lang: str) -> Response:
    name = "manifest-template" if lang == "en" else "manifest-template-zh"
    if kind == "xlsx":
        data, media = templates.xlsx_template(lang), XLSX
    else:
        data, media = templates.csv_template(lang), "text/csv; charset=utf-8"
    headers = {"Content-Disposition": f'attachment; filename="{name}.{kind}"'}
    return Response(data, media_type=media, headers=headers)


@api.get("/template.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def csv_template(user: CurrentUser, lang: _Lang = "zh") -> Response:
    """The manifest's CSV template (UTF-8 with BOM): the header row and one example row."""
    return template_response("csv", lang)


@api.get("/template.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}})
def xlsx_template(user: CurrentUser, lang: _Lang = "zh") -> Response:
    """The manifest's XLSX template: the header row, one example row, ID number and phone columns as text."""
    return template_response("xlsx", lang)


@api.post(
    "/import",
    response_model=ManifestResult,
    responses={422: {"model": ManifestResult, "description": "a problem in some row: nothing was taken"}},
)
def read_manifest(
    file: Annotated[UploadFile, File(description=f"CSV or XLSX, at most {MAX_FILE_BYTES // 1024} KiB")],
    user: Annotated[User, Depends(require(ROLE_ENTERPRISE))],
) -> Any:
    """Read a manifest file (CSV in UTF-8 or GB18030, or XLSX) into the `passengers` of a bus application.

    Nothing is stored: put the passengers in the application's body. When any row has a problem, none is taken
    and the answer (422) lists every problem with its row, in Chinese and English."""
    data = file.file.read(MAX_FILE_BYTES + 1)
    result = import_manifest(data, file.filename or "")
    body = {"passengers": result.passengers, "problems": [p.public() for p in result.problems]}
    return JSONResponse(body, status_code=200 if result.ok else 422)
