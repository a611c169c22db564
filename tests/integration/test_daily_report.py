"""The daily report on both databases (issue 13): made by command and from the portal for auditors and admins,
a Chinese PDF whose text (pdftotext) holds the day's figures and whose only font is embedded (pdffonts)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from server.cli.root import app as cli
from tests.integration import test_audit_views as views

device_factory, world = views.device_factory, views.world  # the fixtures, for this module
DAY = "2026-02-10"  # the world's first local day: release, escort, forged (refused), fever (held)


def text_of(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return done.stdout


def fonts_of(pdf: bytes, tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    return [line.split() for line in done.stdout.splitlines()[2:]]


@pytest.fixture(autouse=True)
def _poppler() -> None:
    for tool in ("pdftotext", "pdffonts"):
        assert shutil.which(tool), f"{tool} (poppler-utils) is needed to read the report"


def squeeze(text: str) -> str:
    return " ".join(text.split())


def test_the_report_holds_the_days_figures_in_chinese_with_its_font_embedded(portal, world, tmp_path):
    response = portal("auditor").get("/audit/report.pdf", params={"day": DAY})
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="daily-report-{DAY}.pdf"'
    text = squeeze(text_of(response.content, tmp_path))
    assert f"卡口通行日报（{DAY}）" in text
    for line in ("通行总数 4", "放行 1", "企业接车 1", "劝返 1", "医学留观 1", "发热留观人次（车辆） 1"):
        assert line in text, line
    assert "企业接车次数 1" in text and "劝返车辆 1" in text
    # per checkpoint: name, total, then the outcomes, escorts, over the limit
    assert "G312 昆山东卡口 2 1 1 0 0 1" in text and "G50 武汉卡口 2 0 0 1 1 0 0" in text
    assert "通行证签名无效：伪造或被篡改 PASS_SIGNATURE_INVALID 1" in text  # the refusal's reason
    for heading in ("各时段通行车辆（按处置结果）", "通行最多的卡口", "接车等待时间分布", "审计告警"):
        assert heading in text, heading
    fonts = fonts_of(response.content, tmp_path)
    assert fonts and all("yes" in row[-5:-2] for row in fonts), fonts  # emb: yes, every font
    assert all("Helvetica" not in row[0] for row in fonts)

    other = squeeze(
        text_of(portal("admin").get("/audit/report.pdf", params={"day": "2026-02-11"}).content, tmp_path)
    )
    assert "卡口通行日报（2026-02-11）" in other and "通行总数 1" in other and "劝返车辆 0" in other


def test_only_auditors_and_admins_get_the_report(portal, world):
    for user in ("reviewer", "clerk"):
        assert portal(user).get("/audit/report.pdf", params={"day": DAY}).status_code == 403, user
    anonymous = portal().get("/audit/report.pdf", params={"day": DAY}, follow_redirects=False)
    assert anonymous.status_code in (303, 401) and not anonymous.content.startswith(b"%PDF")
    bad = portal("auditor").get("/audit/report.pdf", params={"day": "2026-02-30"})
    assert bad.status_code == 422


def test_the_daily_page_offers_the_report_to_auditors_only(portal, world):
    assert 'action="/audit/report.pdf"' in portal("auditor").get("/audit/daily").text
    english = portal("auditor").get("/audit/daily", params={"lang": "en"}).text
    assert "Download the report" in english
    assert 'action="/audit/report.pdf"' not in portal("reviewer").get("/audit/daily").text


def test_the_command_writes_the_same_report(app, world, tmp_path, monkeypatch):
    settings = app.state.settings
    monkeypatch.setenv("CHECKPASS_HOME", str(settings.home))
    if settings.database_url:
        monkeypatch.setenv("CHECKPASS_DATABASE_URL", str(settings.database_url))
    else:
        monkeypatch.delenv("CHECKPASS_DATABASE_URL", raising=False)
    out = tmp_path / "out" / "report.pdf"
    out.parent.mkdir()
    done = CliRunner().invoke(cli, ["report", "daily", "--day", DAY, "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert f"daily report for {DAY}: 4 crossings, written to {out}" in done.output
    text = squeeze(text_of(out.read_bytes(), tmp_path))
    assert "通行总数 4" in text and "G50 武汉卡口 2 0 0 1 1 0 0" in text
    bad = CliRunner().invoke(cli, ["report", "daily", "--day", "yesterday", "--out", str(out)])
    assert bad.exit_code != 0
