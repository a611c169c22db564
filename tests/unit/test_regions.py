"""The region table new input is checked against, and the picker's data (search by name, pinyin, initials)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from passcore import ids
from passcore.errors import InputError
from server.regions import table


@pytest.mark.parametrize(
    "code", ["320583", "320500", "320000", "110101", "429004", "810000", "820000", "710000"]
)
def test_current_codes_exist(code: str) -> None:
    assert table.exists(code)
    assert table.check_exists(code) == code


@pytest.mark.parametrize(
    "code",
    [
        "320599",  # never existed
        "110103",  # 崇文区, merged into 东城区 in 2010
        "320584",  # 吴江市, now 吴江区 320509
        "429001",  # 随州's old code (stale in stdnum's table, left out by scripts/regions_data.py)
        "422900",
    ],
)
def test_codes_not_in_the_current_table_are_unknown(code: str) -> None:
    assert not table.exists(code)
    with pytest.raises(InputError) as caught:
        table.check_exists(code)
    assert caught.value.code == "REGION_UNKNOWN"


@pytest.mark.parametrize("code", ["32058", "3205833", "abcdef", "990000"])
def test_malformed_codes_are_invalid_not_unknown(code: str) -> None:
    with pytest.raises(InputError) as caught:
        table.check_exists(code)
    assert caught.value.code == "REGION_INVALID"


def test_any_well_formed_code_still_passes_the_codec_check() -> None:
    # Passes, crossings and bundles keep accepting codes that no longer exist (old passes, other bureaus).
    assert ids.validate_region("320599") == "320599"


@pytest.mark.parametrize("query", ["昆山", "kunshan", "KunShan", "ks", "kss", "3205"])
def test_search_finds_kunshan_by_name_pinyin_initials_or_code(query: str) -> None:
    assert "320583" in [r.code for r in table.search(query, limit=50)]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("changzhi", "140400"),
        ("czs", "140400"),
        ("zengdu", "421303"),
        ("guoyang", "341621"),
        ("chongqing", "500000"),
    ],
)
def test_search_knows_the_readings_of_place_names(query: str, code: str) -> None:
    # The phrase dictionary alone reads 长治 zhang-zhi and 曾都 ceng-dou; people type chang-zhi and zeng-du.
    assert code in [r.code for r in table.search(query, limit=50)]


def test_search_puts_provinces_before_cities_before_counties() -> None:
    codes = [r.code for r in table.search("j", limit=500)]
    levels = [0 if c.endswith("0000") else 1 if c.endswith("00") else 2 for c in codes]
    assert levels == sorted(levels) and set(levels) == {0, 1, 2}


def test_search_never_offers_placeholders() -> None:
    assert table.search("市辖区") == []
    # Not 市辖区, whose initials are sxq too.
    assert {"沙县区", "苏仙区"} <= {r.name for r in table.search("sxq")}
    assert "市辖区" not in {r.name for r in table.search("sxq", limit=500)}


def test_empty_search_finds_nothing() -> None:
    assert table.search("  ") == []


def test_cascade_provinces_cities_counties() -> None:
    provinces = table.children(None)
    assert len(provinces) == 34 and provinces[0].name == "北京市"
    assert "苏州市" in [r.name for r in table.children("320000")]
    assert "昆山市" in [r.name for r in table.children("320500")]
    # A placeholder level is skipped: Beijing lists its districts, Hubei its directly administered cities.
    assert [r.name for r in table.children("110000")][:2] == ["东城区", "西城区"]
    assert {"武汉市", "仙桃市"} <= {r.name for r in table.children("420000")}
    assert all(not r.placeholder for r in table.children("320500"))


def test_every_code_the_picker_offers_is_one_the_server_accepts() -> None:
    for province in table.children(None):
        for region in [province, *table.children(province.code)]:
            assert table.check_exists(region.code) == region.code


def test_the_data_file_is_what_the_script_makes_from_the_installed_stdnum() -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "regions_data.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
