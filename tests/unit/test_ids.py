"""Tests for passcore.ids: plates, resident ID numbers, credit codes and region codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from passcore import ids
from passcore.errors import InputError


def _with_check_digit(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "0")


# --- plates -----------------------------------------------------------------------------------------------

VALID_PLATES = [
    ("苏EA1234", "苏EA1234"),
    ("苏e·a1234", "苏EA1234"),
    ("苏E•A1234", "苏EA1234"),
    ("苏E.A1234", "苏EA1234"),
    ("苏E-A1234", "苏EA1234"),
    ("苏E A1234", "苏EA1234"),
    ("  苏 E · A 1234  ", "苏EA1234"),
    ("京 Ａ１２３４５", "京A12345"),  # full-width letters and digits
    ("京Ａ－１２３４５", "京A12345"),  # full-width hyphen
    ("京　A12345", "京A12345"),  # ideographic space
    ("鄂A12345", "鄂A12345"),
    ("新AB1C23", "新AB1C23"),
    ("粤BD12345", "粤BD12345"),  # new energy, small vehicle
    ("粤B·F1234A", "粤BF1234A"),
    ("沪A12345D", "沪A12345D"),  # new energy, large vehicle
    ("沪a12345f", "沪A12345F"),
    ("鲁A1234挂", "鲁A1234挂"),  # semi-trailer
    ("鲁a·1234挂", "鲁A1234挂"),
    ("云ZAB12挂", "云ZAB12挂"),
]


@pytest.mark.parametrize(("raw", "normal"), VALID_PLATES)
def test_normalize_plate_valid(raw: str, normal: str) -> None:
    assert ids.normalize_plate(raw) == normal
    assert ids.normalize_plate(normal) == normal


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "苏",
        "苏E",
        "苏EA123",  # too short
        "苏EA12345X",  # too long for a new-energy plate
        "苏E1234I",  # I never appears
        "苏EO1234",  # O never appears
        "苏EA12I4",
        "沪A1234O",
        "港A12345",  # not a mainland province
        "台A12345",
        "AB12345",
        "1A12345",
        "苏112345",  # authority code must be a letter
        "苏·12345",
        "粤BA12345",  # six characters but neither end is D/F
        "粤B12345A",
        "鲁A12345挂",  # trailer has four characters before 挂
        "鲁A123挂",
        "鲁A挂1234",
        "苏EA1234" + " " * 20,  # long before normalising
        "苏" * 21,
        "苏EA1234<script>alert(1)</script>",
        "<b>苏EA1234</b>",
        "苏EA\u200b1234",  # zero-width space
        "\u200d苏EA1234",  # zero-width joiner
        "苏EA1234\x00",
        "苏E_A1234",
        "苏E/A1234",
        "苏EA1234\n沪A12345",
        "苏ÉA1234",
    ],
)
def test_normalize_plate_invalid(raw: str) -> None:
    with pytest.raises(InputError) as err:
        ids.normalize_plate(raw)
    assert err.value.code == "PLATE_INVALID"


@pytest.mark.parametrize("abbreviation", sorted(ids.PROVINCES))
def test_every_province_is_accepted(abbreviation: str) -> None:
    assert ids.normalize_plate(f"{abbreviation}A12345") == f"{abbreviation}A12345"


def test_provinces_table() -> None:
    assert len(ids.PROVINCES) == 31
    assert len(set(ids.PROVINCES.values())) == 31
    assert ids.PROVINCES["京"] == "11"
    assert ids.PROVINCES["鄂"] == "42"
    assert ids.PROVINCES["新"] == "65"
    assert all(len(v) == 2 and v.isdigit() for v in ids.PROVINCES.values())


@pytest.mark.parametrize(
    ("raw", "display"),
    [
        ("苏EA1234", "苏E·A1234"),
        ("苏e a1234", "苏E·A1234"),
        ("粤BD12345", "粤B·D12345"),
        ("鲁A1234挂", "鲁A·1234挂"),
    ],
)
def test_format_plate(raw: str, display: str) -> None:
    assert ids.format_plate(raw) == display
    assert ids.normalize_plate(display) == ids.normalize_plate(raw)


@pytest.mark.parametrize(
    ("plate", "region"),
    [("鄂A12345", "420000"), ("京A12345", "110000"), ("苏e·a1234", "320000"), ("新AB1C23", "650000")],
)
def test_plate_region(plate: str, region: str) -> None:
    assert ids.plate_region(plate) == region


@pytest.mark.parametrize(
    ("plate", "trailer"),
    [("鲁A1234挂", True), ("鲁A·1234挂", True), ("鲁A12345", False), ("粤BD12345", False)],
)
def test_is_trailer(plate: str, trailer: bool) -> None:
    assert ids.is_trailer(plate) is trailer


@pytest.mark.parametrize("func", [ids.format_plate, ids.plate_region, ids.is_trailer])
def test_plate_helpers_reject_invalid(func: object) -> None:
    with pytest.raises(InputError) as err:
        func("港A12345")  # type: ignore[operator]
    assert err.value.code == "PLATE_INVALID"


# --- resident ID numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("320583199001011232", "320583199001011232"),
        ("420102198512310014", "420102198512310014"),
        ("110105194910010023", "110105194910010023"),
        ("440306200002295678", "440306200002295678"),  # 29 February in a leap year
        ("65010219700101000X", "65010219700101000X"),
        ("65010219700101000x", "65010219700101000X"),  # lower-case x
        ("320583 19900101 1232", "320583199001011232"),
        (" 320583199001011232 ", "320583199001011232"),
        ("３２０５８３１９９００１０１１２３２", "320583199001011232"),  # full-width digits
        (
            _with_check_digit("11010319900101123"),
            _with_check_digit("11010319900101123"),
        ),  # 崇文区, abolished 2010: still a valid birthplace
        (_with_check_digit("11010320150101123"), _with_check_digit("11010320150101123")),
    ],
)
def test_validate_id_number_valid(raw: str, normal: str) -> None:
    assert ids.validate_id_number(raw) == normal


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "32058319900101123",  # 17 characters
        "3205831990010112320",  # 19 characters
        "320583199001011233",  # wrong check digit
        "320583199001011231",
        "65010219700101000Y",
        "6501021970010100X0",  # X only allowed last
        "32058319901301123X",  # month 13 (check digit correct)
        "110105194902300020",  # 30 February (check digit correct)
        _with_check_digit("44030619000229123"),  # 1900 is not a leap year
        _with_check_digit("32058319900100123"),  # day 0
        "990101199001011230",  # unknown province (check digit correct)
        "710101199001011239",  # Taiwan: no resident ID numbers
        _with_check_digit("00010119900101123"),
        "32058３1990010112３2" + "0" * 60,  # hostile length
        "320583199001011232\u200b",
        "３２０５８３１９９００１０１１２３٢",  # Arabic-Indic digit
        "<script>320583199001011232</script>",
    ],
)
def test_validate_id_number_invalid(raw: str) -> None:
    with pytest.raises(InputError) as err:
        ids.validate_id_number(raw)
    assert err.value.code == "ID_NUMBER_INVALID"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("320583199001011234", "320583********1234"),
        ("65010219700101000x", "650102********000X"),
        ("320583 19900101 1234", "320583********1234"),
        ("12345678901", "123456********8901"),  # 11 characters: first 6 and last 4 still disjoint
        ("1234567890", "******7890"),  # shorter than 11: only the last 4 shown
        ("A1234", "*1234"),
        ("1234", "1234"),
        ("", ""),
    ],
)
def test_mask_id(number: str, masked: str) -> None:
    assert ids.mask_id(number) == masked


@pytest.mark.parametrize(
    ("value", "tail"),
    [
        ("320583199001011234", "1234"),
        ("650102********000x", "000X"),
        ("320583********1234 ", "1234"),
        ("12", "12"),
    ],
)
def test_last4(value: str, tail: str) -> None:
    assert ids.last4(value) == tail


# --- unified social credit codes --------------------------------------------------------------------------

_USCC = "91320583MA1MXXXX0" + uscc.calc_check_digit("91320583MA1MXXXX0")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("91110000600037341L", "91110000600037341L"),
        ("91110000600037341l", "91110000600037341L"),
        ("9111 0000 6000 3734 1L", "91110000600037341L"),
        ("12100000400000123X", "12100000400000123X"),
        (_USCC, _USCC),
        (_USCC.lower(), _USCC),
    ],
)
def test_validate_uscc_valid(raw: str, normal: str) -> None:
    assert ids.validate_uscc(raw) == normal


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "91110000600037341",  # 17 characters
        "91110000600037341LL",
        "91110000600037341M",  # wrong check character
        "A1110000600037341L",  # first 8 must be digits
        "9111000060003734OL",  # O is not in the alphabet
        "91110000600037341L" * 5,
        "<i>91110000600037341L</i>",
    ],
)
def test_validate_uscc_invalid(raw: str) -> None:
    with pytest.raises(InputError) as err:
        ids.validate_uscc(raw)
    assert err.value.code == "USCC_INVALID"


# --- region codes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("420102", "420102"),
        ("420100", "420100"),
        ("420000", "420000"),
        ("110000", "110000"),
        (" 320583 ", "320583"),
        (420102, "420102"),
        ("650000", "650000"),
        ("710000", "710000"),  # Taiwan
        ("810000", "810000"),  # Hong Kong
        ("820000", "820000"),  # Macau
        ("429004", "429004"),  # directly administered county-level city
        ("420199", "420199"),  # not in the table, but structurally possible
    ],
)
def test_validate_region_valid(raw: str | int, normal: str) -> None:
    assert ids.validate_region(raw) == normal


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "42010",
        "4201020",
        "42O102",
        "４２０１０２",  # full-width digits are not ASCII digits
        "42 0102",
        "000000",
        "990000",
        "100000",
        "830000",
        "420012",  # county part without a city part
        "110001",
        42010,  # would pad to 042010: province 04 does not exist
        1234567,
        -420102,
        True,
        None,
        4.2,
    ],
)
def test_validate_region_invalid(raw: object) -> None:
    with pytest.raises(InputError) as err:
        ids.validate_region(raw)  # type: ignore[arg-type]
    assert err.value.code == "REGION_INVALID"


@pytest.mark.parametrize(
    ("area", "code", "expected"),
    [
        ("420000", "420102", True),
        ("420100", "420102", True),
        ("420102", "420102", True),
        ("110105", "110000", False),
        ("420100", "420000", False),
        ("420100", "420200", False),
        ("420000", "420000", True),
        ("420000", "420100", True),
        ("420100", "420100", True),
        ("420000", "430102", False),
        ("420000", "429004", True),
        ("420102", "420103", False),
        ("420102", "420100", False),
        ("420102", "420000", False),
        ("110000", "110105", True),
        ("110000", "120105", False),
        ("810000", "810000", True),
    ],
)
def test_covers(area: str, code: str, expected: bool) -> None:
    assert ids.covers(area, code) is expected


@pytest.mark.parametrize(("area", "code"), [("420012", "420012"), ("420000", "990000"), ("abc", "420000")])
def test_covers_rejects_invalid_codes(area: str, code: str) -> None:
    with pytest.raises(InputError) as err:
        ids.covers(area, code)
    assert err.value.code == "REGION_INVALID"


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("420000", "湖北省"),
        ("420100", "湖北省 武汉市"),
        ("420102", "湖北省 武汉市 江岸区"),
        ("320583", "江苏省 苏州市 昆山市"),
        ("110000", "北京市"),
        ("110105", "北京市 朝阳区"),  # 110100 is the 市辖区 placeholder
        ("110103", "北京市 崇文区"),  # historic name, bracket prefix stripped
        ("120110", "天津市 东丽区"),  # renamed from 东郊区 in 1992: current name preferred
        ("130101", "河北省 石家庄市"),  # the district level is a placeholder
        ("429004", "湖北省 仙桃市"),  # 省直辖县级行政单位 skipped
        ("810000", "香港特别行政区"),
        ("420199", "湖北省 武汉市"),  # unknown district: the known part
        ("420012", "湖北省"),
        ("990000", "990000"),
        ("000000", "000000"),
        ("abc", "abc"),
    ],
)
def test_region_name(code: str, name: str) -> None:
    assert ids.region_name(code) == name


# --- hostile input ----------------------------------------------------------------------------------------

_PLATE_ALPHABET = st.sampled_from(list("京苏粤鄂鲁港挂·•.- ADFIOXZaz01239０Ａ\u200b<>"))


def _value_or_input_error(func: object, value: object) -> None:
    try:
        result = func(value)  # type: ignore[operator]
    except InputError as err:
        assert err.code in {"PLATE_INVALID", "ID_NUMBER_INVALID", "USCC_INVALID", "REGION_INVALID"}
        assert err.message and "\n" not in err.message
    else:
        assert isinstance(result, str)


@given(st.text(max_size=40) | st.text(_PLATE_ALPHABET, max_size=12))
def test_normalize_plate_never_crashes(text: str) -> None:
    _value_or_input_error(ids.normalize_plate, text)


@given(st.text(_PLATE_ALPHABET, max_size=12))
def test_normalize_plate_is_idempotent(text: str) -> None:
    try:
        normal = ids.normalize_plate(text)
    except InputError:
        return
    assert ids.normalize_plate(normal) == normal
    assert ids.normalize_plate(ids.format_plate(normal)) == normal


@given(st.text(max_size=80) | st.text(st.sampled_from(list("0123456789Xx ３")), max_size=22))
def test_validate_id_number_never_crashes(text: str) -> None:
    _value_or_input_error(ids.validate_id_number, text)


@given(st.text(max_size=80) | st.text(st.sampled_from(list("0123456789ABLMXYZIOlx -")), max_size=22))
def test_validate_uscc_never_crashes(text: str) -> None:
    _value_or_input_error(ids.validate_uscc, text)


@given(st.text(max_size=20) | st.text(st.sampled_from(list("0123456789 ")), max_size=8) | st.integers())
def test_validate_region_never_crashes(value: str | int) -> None:
    _value_or_input_error(ids.validate_region, value)


@given(st.from_regex(r"[0-9]{6}", fullmatch=True))
def test_region_name_never_raises_for_six_digits(code: str) -> None:
    name = ids.region_name(code)
    assert name == code or name.strip()
