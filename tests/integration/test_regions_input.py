"""New input names only regions that exist and names the pass can print; nothing is saved otherwise (issue 13).

Both the JSON API and the portal's form, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import Session, func, select

from server.applications.models import Application
from server.checkpoints.models import Checkpoint
from server.enterprises.models import Enterprise
from server.policy import service as policy_service
from tests.factories import DRIVER_ID
from tests.integration.test_accounts import registration
from tests.integration.test_admin import policy_form
from tests.integration.test_applications import body, form, submitted
from tests.integration.test_checkpoints import form as checkpoint_form

RARE = "\U00020000"  # CJK Extension B: not in the pass's font


def count(app) -> int:
    with Session(app.state.engine) as session:
        return session.exec(select(func.count()).select_from(Application)).one()


def test_api_refuses_a_region_that_does_not_exist_and_saves_nothing(api, app):
    clerk = api("clerk")
    before = count(app)
    for submit in ("true", "false"):  # neither submitted nor kept as a draft
        response = clerk.post(
            f"/api/v1/applications?submit={submit}",
            json=body(origin="320599", travel_history=["320500", "110103"]),
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"] == {"origin": "region_unknown", "travel_history.1": "region_unknown"}
        assert "320599 is not in the current GB/T 2260 table" in response.json()["detail"]
    assert count(app) == before


def test_api_accepts_existing_regions_at_every_level(api):
    assert submitted(api("clerk"), body(origin="320000", destination="110101", travel_history=["320500"]))


def test_form_shows_an_unknown_region_by_its_field_in_both_languages(portal, app):
    clerk = portal("clerk")
    before = count(app)
    page = clerk.form("/enterprise/applications/new", form(origin="320599"))
    assert page.status_code == 422
    assert 'id="e-origin"' in page.text and "不在现行行政区划代码表" in page.text
    assert 'value="320599"' in page.text  # what was typed stays, to be corrected
    clerk.get("/enterprise/applications/new?lang=en")
    english = clerk.form("/enterprise/applications/new", form(action="draft", destination="320599"))
    assert english.status_code == 422
    assert 'id="e-destination"' in english.text and "not in the current GB/T 2260 table" in english.text
    assert count(app) == before


def test_form_names_the_characters_the_pass_cannot_print(portal, app):
    clerk = portal("clerk")
    before = count(app)
    page = clerk.form("/enterprise/applications/new", form(driver_name=f"张{RARE}三"))
    assert page.status_code == 422
    assert 'id="e-driver_name"' in page.text and f"通行证无法打印其中的字：{RARE}" in page.text
    assert count(app) == before
    ok = clerk.form(
        "/enterprise/applications/new", form(driver_name="阿依古丽·买买提"), follow_redirects=False
    )
    assert ok.status_code == 303


def test_form_refuses_trailers_wrong_colours_and_the_driver_as_escort(portal, app):
    clerk = portal("clerk")
    before = count(app)
    page = clerk.form(
        "/enterprise/applications/new",
        form(
            plate="苏E·A123挂",
            escort_name=["李娜", "张伟", ""],
            escort_id_number=["320583199007054567", DRIVER_ID, ""],
        ),
    )
    assert page.status_code == 422
    assert 'id="e-plate"' in page.text and "牵引车" in page.text
    green = clerk.form("/enterprise/applications/new", form(plate_colour="green"))
    assert 'id="e-plate_colour"' in green.text and "8 位新能源号牌" in green.text
    escort = clerk.form(
        "/enterprise/applications/new",
        form(escort_name=["张伟", "", ""], escort_id_number=[DRIVER_ID, "", ""]),
    )
    assert 'id="e-escort_id_number_0"' in escort.text and "驾驶员不能同时担任押运员" in escort.text
    assert count(app) == before


def test_api_reports_new_energy_colour_at_the_colour_field(api):
    response = api("clerk").post(
        "/api/v1/applications", json=body(vehicle={"plate": "苏E·D12345", "plate_colour": "blue"})
    )
    assert response.status_code == 422
    assert response.json()["errors"] == {"vehicle.plate_colour": "plate_colour_new_energy"}
    assert submitted(api("clerk"), body(vehicle={"plate": "苏E·D12345", "plate_colour": "green"}))


def test_registration_refuses_an_unknown_region_and_an_unprintable_name(portal, app):
    visitor = portal()
    csrf = visitor.get("/register").cookies.get("cp_csrf")
    response = visitor.post(
        "/register",
        data=registration(region="320599", name=f"昆山{RARE}材料有限公司") | {"csrf_token": csrf},
    )
    assert response.status_code == 422
    assert 'id="e-region"' in response.text and "不在现行行政区划代码表" in response.text
    assert 'id="e-name"' in response.text and "通行证无法打印" in response.text
    with Session(app.state.engine) as session:
        assert session.get(Enterprise, "91320583MA1MQ3K8DC") is None


def test_a_checkpoint_is_registered_only_in_a_region_that_exists(portal, app):
    admin = portal("admin")
    admin.csrf = admin.page_csrf("/admin/checkpoints")
    page = admin.form("/admin/checkpoints", checkpoint_form(region="320599"))
    assert page.status_code == 422
    assert 'id="e-region"' in page.text and "不在现行行政区划代码表" in page.text
    assert 'id="region-picker"' in page.text  # the admin picks from the same table
    with Session(app.state.engine) as session:
        assert session.exec(select(Checkpoint)).first() is None


def test_the_hard_hit_area_takes_only_codes_of_the_current_table(portal, app):
    admin = portal("admin")
    with Session(app.state.engine) as session:
        version = policy_service.current(session).version
    page = admin.form("/admin/policy", policy_form(hard_hit="420000, 320599"))
    assert page.status_code == 422
    assert 'id="e-hard_hit"' in page.text and "现行代码表" in page.text
    assert 'data-fields="hard_hit"' in page.text  # the picker adds codes to the list
    with Session(app.state.engine) as session:
        assert policy_service.current(session).version == version
