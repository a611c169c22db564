"""Documents in a real browser, in Chinese and in English: an enterprise registers with its business licence;
the administrator opens the licence, rejects with a reason; the enterprise reads the reason, sends a new licence;
the administrator verifies. The demo enterprise adds a vehicle licence on the application form and a driving
licence on the application's page; the reviewer opens them."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image
from stdnum.cn import uscc

from server.web.i18n import translate
from tests.e2e.conftest import screenshot
from tests.e2e.test_portal_basics import sign_in
from tests.integration.client_helpers import DEMO_PASSWORD
from tests.integration.test_applications import body
from tests.unit.test_document_sniff import pdf

PASSWORD = "documents-password-1"


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 80), colour).save(out, format="PNG")
    return out.getvalue()


def credit_code(lang: str) -> str:
    stem = "91320583MA1DKC" + ("0A" if lang == "zh" else "1E") + "1"  # no I, O, S, V or Z in a credit code
    return stem + uscc.calc_check_digit(stem)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_register_with_a_licence_rejected_then_verified(server, new_page, tmp_path, lang):
    t = lambda key, **values: translate(key, lang, **values)  # noqa: E731
    base, code, username = server["url"], credit_code(lang), f"doc-clerk-{lang}"
    first, second = tmp_path / "licence-blurred.png", tmp_path / "licence.pdf"
    first.write_bytes(png((180, 180, 180)))
    second.write_bytes(pdf())

    clerk = new_page(lang)
    clerk.goto(f"{base}/register?lang={lang}")
    for field, value in (
        ("name", f"昆山证件测试有限公司 {lang}"),
        ("uscc", code),
        ("region", "320583"),
        ("contact", "周敏"),
        ("phone", "0512-5550 1234"),
        ("username", username),
        ("password", PASSWORD),
    ):
        clerk.fill(f"#f-{field}", value)
    clerk.set_input_files("#f-licence", str(first))
    clerk.click("form[action='/register'] button.primary")
    assert clerk.locator("h1").inner_text() == t("registered.title")

    admin = new_page(lang)
    sign_in(admin, base, "demo-admin", lang)
    admin.goto(f"{base}/admin/enterprises")
    admin.click(f"a[href='/admin/enterprises/{code}'].button")
    assert code in admin.locator("dl.facts").inner_text()
    with admin.context.expect_page() as opened:
        admin.click("ul.licences a")
    licence = opened.value
    licence.wait_for_load_state()
    # The licence opens as an image in its own tab: the browser decoded it (a broken image has no width).
    assert licence.evaluate("document.images.length === 1 && document.images[0].naturalWidth === 120")
    licence.close()
    screenshot(admin, f"documents-admin-enterprise-{lang}")

    admin.click(f"form[action='/admin/enterprises/{code}/reject'] button.danger")  # no reason: refused
    assert admin.locator("#e-reason").inner_text() == t("invalid.verify_reason_invalid")
    admin.fill("#f-reason", "执照照片模糊 / the photo is blurred")
    admin.click(f"form[action='/admin/enterprises/{code}/reject'] button.danger")
    assert admin.locator("p.notice").inner_text() == t("verify.rejected_notice")

    clerk.goto(f"{base}/login?lang={lang}")
    clerk.fill("#f-username", username)
    clerk.fill("#f-password", PASSWORD)
    clerk.click("button.primary")
    clerk.goto(f"{base}/enterprise/licence")
    assert clerk.locator(".rejection-reason").inner_text() == "执照照片模糊 / the photo is blurred"
    screenshot(clerk, f"documents-licence-rejected-{lang}")
    clerk.set_input_files("#f-licence", str(second))
    clerk.click("form[action='/enterprise/licence'] button.primary")
    assert clerk.locator("p.notice").inner_text() == t("licence.sent")
    assert clerk.locator(".rejection-reason").count() == 0

    admin.goto(f"{base}/admin/enterprises/{code}")
    assert admin.locator("ul.licences li").first.inner_text().startswith("licence.pdf")
    admin.click(f"form[action='/admin/enterprises/{code}/verify'] button.primary")
    assert (
        t("admin.enterprises.verified_notice", name=f"昆山证件测试有限公司 {lang}")
        in admin.locator("p.notice").inner_text()
    )
    clerk.goto(f"{base}/enterprise/licence")
    assert clerk.locator(".status.valid").inner_text() == t("admin.enterprises.verified")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_documents_with_an_application_seen_by_the_reviewer(server, new_page, tmp_path, lang):
    t = lambda key, **values: translate(key, lang, **values)  # noqa: E731
    base = server["url"]
    token = httpx.post(
        f"{base}/api/v1/auth/token", json={"username": "demo-enterprise", "password": DEMO_PASSWORD}
    ).json()["token"]
    made = httpx.post(
        f"{base}/api/v1/applications", json=body(), headers={"authorization": f"Bearer {token}"}
    )
    assert made.status_code == 201, made.text
    application_id = made.json()["id"]
    vehicle, driving, bad = tmp_path / "行驶证.png", tmp_path / "driving.pdf", tmp_path / "evil.jpg"
    vehicle.write_bytes(png((30, 90, 160)))
    driving.write_bytes(pdf())
    bad.write_text("<html><script>alert(1)</script></html>")

    clerk = new_page(lang)
    sign_in(clerk, base, "demo-enterprise", lang)
    # On the form: the vehicle licence goes with the draft when it is saved.
    clerk.goto(f"{base}/enterprise/applications/{application_id}/edit")
    clerk.set_input_files("#f-vehicle_licence", str(vehicle))
    clerk.click("button[name=action][value=draft]:not([hidden])")
    row = clerk.locator("table.documents-list tbody tr")
    assert row.count() == 1 and "行驶证.png" in row.first.inner_text()
    # On the application's page: a file that is not a document is refused beside the input, then a PDF goes.
    clerk.select_option("#f-kind", "driving_licence")
    clerk.set_input_files("#f-file", str(bad))
    clerk.click("form.document-upload button.primary")
    assert clerk.locator("#e-file").inner_text() == t("invalid.document_type")
    clerk.select_option("#f-kind", "driving_licence")
    clerk.set_input_files("#f-file", str(driving))
    clerk.click("form.document-upload button.primary")
    assert clerk.locator("section.documents p.notice").inner_text() == t("docs.notice.added")
    assert row.count() == 2
    screenshot(clerk, f"documents-application-{lang}")

    reviewer = new_page(lang)
    sign_in(reviewer, base, "demo-reviewer", lang)
    reviewer.goto(f"{base}/review/applications/{application_id}")
    links = reviewer.locator("table.documents-list a")
    assert links.count() == 2
    assert t("docs.kind.vehicle_licence") in reviewer.locator("table.documents-list").inner_text()
    href = links.first.get_attribute("href")
    cookies = {c["name"]: c["value"] for c in reviewer.context.cookies()}
    shown = httpx.get(f"{base}{href}", cookies=cookies)
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
    assert shown.headers["x-content-type-options"] == "nosniff"
    screenshot(reviewer, f"documents-review-{lang}")
