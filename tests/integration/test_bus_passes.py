"""Issuing a bus pass (issue 14): through the API (enterprise applies, reviewer approves) and `checkpass issue`; its
manifest pages verify with passcore.manifest and add up to the pass's digest; the PDF prints the pass and every
page, and the project's decoder reads every QR from the pages rendered at 150 dpi (the done-when path); the portal
lists the pages; retention removes them with the pass's people."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from checkpoint_client.decoding import decode_image_file
from passcore import manifest, trust
from passcore.keys import PublicKey
from server import db
from server.applications.schemas import parse_application
from server.keyring import service as keyring
from server.passes import render
from server.passes import service as passes
from server.passes.models import IssuedPass, ManifestPage
from server.policy import service as policy_service
from server.retention import issued as retention
from tests.bus_factories import bus_body
from tests.integration.test_cli import Station
from tests.integration.test_passes import issue_pass
from tests.integration.test_trust_bundle_api import load

PASSENGERS = 45  # the issue's bus: 45 workers
PAGES = manifest.page_count(PASSENGERS)  # 6 of 8 (passcore's measured page size)


def _body(count: int = PASSENGERS, seats: int = 92) -> dict:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    # 45 passengers and the manager at the default 50 % need 92 seats.
    return bus_body(count, seats=seats, start=start)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install Debian's poppler-utils")
    return path


def _assemble(qr_text: str, pages: list[str], bundle: trust.TrustBundle) -> manifest.Manifest:
    now = datetime.now(UTC)
    verification = trust.verify_pass(qr_text, bundle, now=now)
    assert verification.valid, verification.code
    claims = verification.claims
    assert claims is not None and claims.bus is not None and claims.kind == "personnel"
    book = manifest.Manifest(claims)
    for text in reversed(pages):  # any order
        page = manifest.verify_page(text, bundle, now=now)
        assert page.valid and page.pass_id == claims.pass_id, page.message
        assert book.add(page) == manifest.ADDED
    assert book.complete and book.code == "MANIFEST_VALID"
    assert manifest.digest(book.passengers) == claims.bus.digest
    return book


def _printed_texts(pdf: Path, dpi: int = 150) -> list[list[str]]:
    """Each PDF page rendered at ``dpi`` (150 as a printer would), and read by the checkpoint's decoder."""
    prefix = pdf.parent / f"printed{dpi}"
    subprocess.run([_tool("pdftoppm"), "-r", str(dpi), "-png", str(pdf), str(prefix)], check=True)
    images = sorted(pdf.parent.glob(f"{prefix.name}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [decode_image_file(image) for image in images]


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(
        [_tool("pdftotext"), "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_a_bus_pass_through_the_api_prints_and_scans(app, api, portal, tmp_path):
    enterprise = api("clerk")
    created = enterprise.post("/api/v1/applications?submit=true", json=_body())
    assert created.status_code == 201, created.text
    approved = api("reviewer").post(f"/api/v1/applications/{created.json()['id']}/approve")
    assert approved.status_code == 200, approved.text
    pass_id = approved.json()["pass_id"]

    shown = enterprise.get(f"/api/v1/passes/{pass_id}").json()
    assert shown["kind"] == "personnel" and shown["escorts"] == []
    bus = shown["bus"]
    assert (bus["seats"], bus["departure"], bus["arrival"]) == (92, "信阳汽车站", "昆山汽车南站")
    assert bus["manager"] == {"name": "周经理", "id_number": "320583********3215"}
    assert (bus["pages"], bus["passengers"]) == (PAGES, PASSENGERS)
    pages = shown["manifest"]
    assert len(pages) == PAGES and all(manifest.is_page(text) for text in pages)
    assert render.qr_version(shown["qr_text"]) <= 12  # the windscreen QR stays ≤ v12-M
    assert enterprise.get("/api/v1/passes").json()[0]["manifest"] == []  # lists stay light

    bundle = load(app, api().get("/api/v1/trust-bundle").content)
    book = _assemble(shown["qr_text"], pages, bundle)
    assert [p.name for p in book.passengers] == [f"乘客{n}" for n in range(1, PASSENGERS + 1)]
    assert all("*" in p.id_masked for p in book.passengers)  # masked on the pages too

    pdf = tmp_path / "pass.pdf"
    response = enterprise.get(f"/api/v1/passes/{pass_id}/pdf")
    assert response.status_code == 200
    pdf.write_bytes(response.content)
    text = _pdf_text(pdf)
    assert "人员运输 personnel transport" in text and "信阳汽车站 → 昆山汽车南站" in text
    assert f"乘客名单共 {PAGES} 页 / manifest: {PAGES} pages" in text
    assert f"第 3/{PAGES} 页 page 3/{PAGES}" in text and "乘客27" in text and "信阳市" in text
    assert text.count(shown["serial"]) >= PAGES + 1  # the card and every manifest page name the pass
    assert _printed_texts(pdf) == [[shown["qr_text"]], *[[page] for page in pages]]
    # The sheets' QR codes have the pass's module size (render.py), so they still read from a coarser image.
    assert _printed_texts(pdf, dpi=100) == [[shown["qr_text"]], *[[page] for page in pages]]

    # The PNG/SVG stay the windscreen QR; each page has its own.
    png = enterprise.get(f"/api/v1/passes/{pass_id}/png")
    (tmp_path / "pass.png").write_bytes(png.content)
    assert decode_image_file(tmp_path / "pass.png") == [shown["qr_text"]]
    page3 = enterprise.get(f"/api/v1/passes/{pass_id}/manifest/3/png")
    assert page3.status_code == 200 and page3.headers["content-type"] == "image/png"
    (tmp_path / "page3.png").write_bytes(page3.content)
    assert decode_image_file(tmp_path / "page3.png") == [pages[2]]
    assert enterprise.get(f"/api/v1/passes/{pass_id}/manifest/3/svg").text.startswith("<?xml")
    assert enterprise.get(f"/api/v1/passes/{pass_id}/manifest/{PAGES + 1}/png").status_code == 404
    assert enterprise.get(f"/api/v1/passes/{pass_id}/manifest/0/png").status_code == 422

    # The portal's pass page lists the pages; manifest.txt has them one a line.
    clerk = portal("clerk")
    page = clerk.get(f"/enterprise/passes/{pass_id}?lang=zh").text
    assert (
        "人员运输（包车，优先通行）" in page
        and f"第 {PAGES}/{PAGES} 页" in page
        and "周经理 · 320583********3215" in page
    )
    assert f"/enterprise/passes/{pass_id}/manifest/{PAGES}/png" in page
    assert f"Page 2/{PAGES}" in clerk.get(f"/enterprise/passes/{pass_id}?lang=en").text
    txt = clerk.get(f"/enterprise/passes/{pass_id}/manifest.txt")
    assert txt.status_code == 200 and txt.text.splitlines() == pages
    assert clerk.get(f"/enterprise/passes/{pass_id}/manifest/1/png").status_code == 200

    # Another enterprise sees nothing; a freight pass has no manifest; a revoked pass is not handed out.
    assert api("rival").get(f"/api/v1/passes/{pass_id}/manifest/1/png").status_code == 404
    assert portal("rival").get(f"/enterprise/passes/{pass_id}/manifest.txt").status_code == 404
    freight = issue_pass(app, plate="苏E·F0001")
    assert enterprise.get(f"/api/v1/passes/{freight.pass_id}").json()["kind"] == "freight"
    assert enterprise.get(f"/api/v1/passes/{freight.pass_id}/manifest/1/png").status_code == 404
    assert clerk.get(f"/enterprise/passes/{freight.pass_id}/manifest.txt").status_code == 404
    revoked = enterprise.post(f"/api/v1/passes/{pass_id}/revoke", json={"reason": "车辆故障"})
    assert revoked.status_code == 200
    assert enterprise.get(f"/api/v1/passes/{pass_id}/manifest/1/png").status_code == 409


def test_checkpass_issue_writes_the_manifest_for_a_bus(tmp_path):
    station = Station(tmp_path, None)
    station.run("checkpass", "init")
    application = station.tmp / "bus.json"
    application.write_text(json.dumps(_body(), ensure_ascii=False), encoding="utf-8")
    out = station.tmp / "bus"
    summary = station.json("checkpass", "issue", application, "--out", out, "--json")
    assert summary["kind"] == "personnel" and summary["manifest_pages"] == PAGES
    assert summary["qr_version"] <= 12 and len(summary["manifest_qr_versions"]) == PAGES
    pages = (out / "manifest.txt").read_text(encoding="ascii").splitlines()
    assert len(pages) == PAGES and summary["files"]["manifest"] == str(out / "manifest.txt")
    readable = json.loads((out / "pass.json").read_text(encoding="utf-8"))
    assert readable["kind"] == "personnel"
    assert readable["bus"]["departure"] == "信阳汽车站" and readable["bus"]["pages"] == PAGES
    assert readable["bus"]["manager"]["id_number"] == "320583********3215"

    station.run("checkpass", "bundle", "export", "--out", station.tmp / "bundle.cose")
    root = PublicKey.from_pem((station.server_home / "keys" / "root.pub.pem").read_bytes())
    bundle = trust.load_bundle((station.tmp / "bundle.cose").read_bytes(), root=root, now=datetime.now(UTC))
    _assemble((out / "pass.txt").read_text(encoding="ascii").strip(), pages, bundle)
    assert f"第 3/{PAGES} 页" in _pdf_text(out / "pass.pdf")
    assert _printed_texts(out / "pass.pdf")[1:] == [[page] for page in pages]

    # A freight pass writes no manifest.txt; a bus over the seat limit is refused, nothing written.
    freight = station.json(
        "checkpass", "issue", station.application(), "--out", station.tmp / "lorry", "--json"
    )
    assert freight["kind"] == "freight" and "manifest" not in freight["files"]
    assert not (station.tmp / "lorry" / "manifest.txt").exists()
    crowded = station.tmp / "crowded.json"
    crowded.write_text(json.dumps(_body(seats=53), ensure_ascii=False), encoding="utf-8")
    err = station.run("checkpass", "issue", crowded, "--out", station.tmp / "crowded", expect=2).stderr
    assert "SEAT_LIMIT_EXCEEDED" in err or "seat limit" in err
    assert not (station.tmp / "crowded").exists()


def test_retention_removes_the_manifest_with_the_pass(app):
    issued_at = datetime(2026, 1, 5, 8, tzinfo=UTC)
    settings = app.state.settings
    with db.session_scope(app.state.engine) as session:
        issued = passes.issue(
            session=session,
            application=parse_application(bus_body(12, start=issued_at)),
            signer=keyring.active_issuer(session=session, settings=settings),
            policy=policy_service.current(session),
            issuer_region=settings.issuer_region,
            now=issued_at,
        )
        pass_id = issued.claims.pass_id
    with Session(app.state.engine) as session:
        assert len(passes.manifest_pages(session, pass_id)) == manifest.page_count(12)
        # Not yet: the cutoff is before the pass's end.
        assert retention.purge_passes(session, issued_at, issued_at) == 0
        assert len(passes.manifest_pages(session, pass_id)) == manifest.page_count(12)
        assert (
            retention.purge_passes(session, issued_at + timedelta(days=60), issued_at + timedelta(days=60))
            == 1
        )
    with Session(app.state.engine) as session:
        assert session.exec(select(ManifestPage).where(ManifestPage.pass_id == pass_id)).all() == []
        record = session.get(IssuedPass, pass_id)
        assert record is not None and record.purged_at is not None
        stored = record.application_json + record.claims_json
        for secret in ("乘客1", "周经理", "13912345678", "********"):
            assert secret not in stored, secret
        body = json.loads(record.application_json)
        # The vehicle's origin stays for statistics, as for freight; the passengers' own places go.
        assert {(p["origin"], tuple(p["travel_history"])) for p in body["passengers"]} == {("", ())}
        assert len(body["passengers"]) == 12 and body["bus"]["seats"] == 53  # counts stay for statistics
        assert json.loads(record.claims_json)["bus"]["passengers"] == 12
        assert passes.manifest_pages(session, pass_id) == []
