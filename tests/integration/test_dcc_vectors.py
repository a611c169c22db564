"""Interop: our wire layers against the EU Digital COVID Certificate's public test vectors (dgc-testdata).

Our passes use the DCC's container (prefix, Base45, zlib, COSE_Sign1, CWT), so each of our layer functions is
run on every DCC case whose ``EXPECTEDRESULTS`` asks for that step: ``true`` means our layer must succeed and
give the next layer of the case, ``false`` that it must refuse (with a ``PassError``; for the picture, with the
scanner's ``InputError`` IMAGE_INVALID). The vectors are a copy kept in the repository, ``tests/vectors/dgc-testdata``
(its README says from which upstream commit, and how to refresh it).

Nothing is dropped quietly. Everything that is not a plain run is in a table below, and a test asserts that
each table is exactly what the data says:
  * SET_ASIDE — the cases ``known_issues.csv`` names for one of our steps (the suite's own maintainers know them
    to be wrong); our layer still runs on them and must not crash, and what it did is printed (pytest -rP)
    with the upstream issue, but their expected result is not asserted;
  * EXPECTED_DEVIATIONS — cases where our layer is right and the vector disagrees with it (or with its own
    description): asserted to fail exactly as documented;
  * ABSENT_* — cases whose flag is set but which lack a layer: run against the nearest layer they do give;
  * EXPECTED_FAILURES — every ``false`` case with the failure our layer must give (code, not message text).
"""

from __future__ import annotations

import base64
import csv
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from checkpoint_client.decoding import decode_frame, load_image
from passcore import wire
from passcore.errors import CheckpassError, InputError, PassError
from passcore.keys import PublicKey

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "dgc-testdata"
CASE_COUNT = 577
DCC_PREFIX = "HC1:"
DCC_ALGORITHMS = frozenset({"ES256", "PS256", "EdDSA"})
# A DCC inflates to 1-2 KiB; our passes are capped far lower (wire.MAX_INFLATED_BYTES).
DCC_INFLATE_LIMIT = 64 * 1024
CLAIM_EXP, CLAIM_IAT = 4, 6

UNPREFIX = "EXPECTEDUNPREFIX"
B45DECODE = "EXPECTEDB45DECODE"
COMPRESSION = "EXPECTEDCOMPRESSION"
VERIFY = "EXPECTEDVERIFY"
EXPIRATION = "EXPECTEDEXPIRATIONCHECK"
PICTURE = "EXPECTEDPICTUREDECODE"
STEPS = (UNPREFIX, B45DECODE, COMPRESSION, VERIFY, EXPIRATION, PICTURE)

# Flags that do not concern our layers: they are about the DCC's own payload, not the container.
NOT_APPLICABLE = {
    "EXPECTEDDECODE": "compares the DCC payload (hcert claim -260) with the JSON field: DCC content",
    "EXPECTEDVALIDJSON": "CBOR -> JSON of the DCC payload compared with the JSON field: DCC content",
    "EXPECTEDSCHEMAVALIDATION": "DCC JSON schema validation of the payload",
    "EXPECTEDVALIDOBJECT": "DCC JSON schema validation of the JSON field (generation side)",
    "EXPECTEDENCODE": "DCC JSON -> CBOR generation; our encode() takes PassClaims",
    "EXPECTEDKEYUSAGE": "the certificate's DCC key-usage OIDs vs certificate type; our trust bundle has no OIDs",
    # Not flags of the README at all. EXPTECTEDEXPIRED (BG/1-4, ES/201-203) is misspelt and undefined, and its
    # literal reading ("expired") contradicts the data: every one of the 7 cases is within iat..exp at its
    # clock (test_misspelt_expired_flag_is_not_an_expiry_claim). ES/1001-1003 nest an "EXPECTEDRESULTS": true.
    "EXPTECTEDEXPIRED": "misspelt, undefined flag; ignored (see test_misspelt_expired_flag_is_not_an_expiry_claim)",
    "EXPECTEDRESULTS": "a stray nested key (ES/1001-1003), not a flag",
}

# known_issues.csv names tests of the suite's own runner (dgc-testdata/tests/test_ehealth_certs.py).
CSV_TEST_STEP = {
    "test_un_prefix": UNPREFIX,
    "test_b45decode": B45DECODE,
    "test_compression": COMPRESSION,
    "test_verification_check": VERIFY,
    "test_expiration_check": EXPIRATION,
    "test_picture_decode": PICTURE,
    # The others check flags we do not test (NOT_APPLICABLE): nothing of ours to set aside for them.
    "test_cose_schema": None,
    "test_cose_json": None,
    "test_cbor_json": None,
    "test_cose_cbor": None,
    "test_expected_key_usage": None,
}


def _ids(country: str, *names: object) -> tuple[str, ...]:
    return tuple(f"{country}/{name}.json" for name in names)


_FI_ALL = _ids("FI", *range(1, 11))
# What known_issues.csv sets aside among the steps we run: ES #228 (a P-384 key used with ES256) and FI #407.
SET_ASIDE = {
    VERIFY: _ids("ES", 401, 402, 403) + _FI_ALL,
    EXPIRATION: _FI_ALL,
}

# Our layer is right; the vector expects otherwise. Each is asserted to fail exactly like this.
EXPECTED_DEVIATIONS = {
    (VERIFY, "common/CO20.json"): (
        "PASS_SIGNATURE_INVALID",
        "the description says 'KID in protected header correct', but the protected header is empty: alg and kid "
        "are only in the unprotected header. verify_signature requires the algorithm to be protected (RFC 9052 "
        "§3.1 / hcert put alg in the protected header), else an attacker could pick it.",
    ),
    (VERIFY, "common/CO28.json"): (
        "COSE_INVALID",
        "the COSE_Sign1 (tag 18) is wrapped in the CWT tag 61. parse_cose accepts tag 18 only: our pass format "
        "has one encoding. RFC 8392 §6 allows the wrapper, so a DCC verifier would have to unwrap it.",
    ),
    (EXPIRATION, "common/CO28.json"): ("COSE_INVALID", "same CWT tag 61 wrapper: the payload is not reached"),
}

# Flag set but a layer missing: the step runs against the nearest layer the case gives (our own output of
# the outer layer stands in for an absent input). Listed, and asserted, so none of this is silent.
ABSENT_COMPRESSED = (
    _ids("BG", 5)
    + _ids("DK", 1, 2, 3, 4, 5, 7, 8, 10, 11, 12)
    + _ids("ES", 101, 102, 103, 1001, 1002, 1003, 1101, 1102, 1103, 1501, 1502, 1503, 2101, 2102, 2103)
    + _ids("HR", 1, 2, 3, 4)
)  # B45DECODE: b45decode(BASE45) is inflated and compared with COSE; COMPRESSION (BG/5): it is the input
ABSENT_COMPRESSED_AND_COSE = _ids("PT/1.3.0", 1, 2, 3, 4)
# ^ B45DECODE/COMPRESSION: b45decode(BASE45) must inflate to a COSE_Sign1 parse_cose accepts (nothing to
#   compare with); VERIFY/EXPIRATION: the COSE is inflate(b45decode(BASE45)).
PICTURE_UNDER_UNDERSCORE_KEY = _ids("LV", 1, 2, 3)  # the PNG is spelt "_2DCODE"; it is the picture of PREFIX
NO_PICTURE = _ids(
    "FR", *(f"DGC_QrCode_{n:05d}_Raw" for n in range(1, 19)), "recovery_ok", "test_pcr_ok", "vaccin_ok"
) + _ids(
    "common", "B1"
)  # PICTUREDECODE true but no picture at all: cannot be run (they are not parametrized)

# Every `false` case, and how our layer refuses it: PassError detail (or code), expiry reason, or InputError code.
EXPECTED_FAILURES = {
    (UNPREFIX, "common/H1.json"): "PREFIX_INVALID",  # HL0:
    (UNPREFIX, "common/H2.json"): "PREFIX_INVALID",  # HC2:
    (UNPREFIX, "common/H3.json"): "PREFIX_INVALID",  # no prefix
    (B45DECODE, "common/B1.json"): "BASE45_INVALID",
    (COMPRESSION, "common/Z1.json"): "ZLIB_INVALID",  # broken stream
    (COMPRESSION, "common/Z2.json"): "ZLIB_INVALID",  # not compressed at all
    (VERIFY, "common/CO5.json"): "PASS_SIGNATURE_INVALID",  # cryptographically invalid
    # CO22/CO23 are about a wrong kid; we are given the key, and refuse them because alg is unprotected.
    (VERIFY, "common/CO22.json"): "PASS_SIGNATURE_INVALID",
    (VERIFY, "common/CO23.json"): "PASS_SIGNATURE_INVALID",
    (VERIFY, "common/CBO2.json"): "CBOR_TRAILING_BYTES",  # "wrong CWT structure": a 0 then 425 bytes
    (VERIFY, "PL/1.0.0/6.json"): "PASS_SIGNATURE_INVALID",  # signed by another certificate's key
    (VERIFY, "PL/1.2.1/6.json"): "PASS_SIGNATURE_INVALID",
    (VERIFY, "PL/1.3.0/6.json"): "PASS_SIGNATURE_INVALID",
    (EXPIRATION, "common/CO16.json"): "NOT_YET_ISSUED",
    (EXPIRATION, "common/CO17.json"): "EXPIRED",
    (EXPIRATION, "PL/1.0.0/10.json"): "EXPIRED",
    (EXPIRATION, "PL/1.2.1/10.json"): "EXPIRED",
    (EXPIRATION, "PL/1.3.0/10.json"): "EXPIRED",
    (PICTURE, "common/Q1.json"): "IMAGE_INVALID",  # the "PNG" is random bytes
}

# Per step: cases run (true / false), set aside, expected deviations, run on a stand-in layer, not runnable.
EXPECTED_COUNTS = {
    UNPREFIX: {
        "true": 533,
        "false": 3,
        "set aside": 0,
        "deviation": 0,
        "stand-in layer": 0,
        "not runnable": 0,
    },
    B45DECODE: {
        "true": 533,
        "false": 1,
        "set aside": 0,
        "deviation": 0,
        "stand-in layer": 34,
        "not runnable": 0,
    },
    COMPRESSION: {
        "true": 504,
        "false": 2,
        "set aside": 0,
        "deviation": 0,
        "stand-in layer": 5,
        "not runnable": 0,
    },
    VERIFY: {
        "true": 529,
        "false": 7,
        "set aside": 13,
        "deviation": 2,
        "stand-in layer": 4,
        "not runnable": 0,
    },
    EXPIRATION: {
        "true": 462,
        "false": 5,
        "set aside": 10,
        "deviation": 1,
        "stand-in layer": 4,
        "not runnable": 0,
    },
    PICTURE: {
        "true": 492,
        "false": 1,
        "set aside": 0,
        "deviation": 0,
        "stand-in layer": 3,
        "not runnable": 22,
    },
}


# --- the cases -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str  # "DE/1.json", "PL/1.0.0/1.json", "common/CO1.json"
    country: str  # first folder: known_issues.csv's "country"
    name: str  # file stem: known_issues.csv's "test_set"
    data: dict[str, Any]

    @property
    def flags(self) -> dict[str, Any]:
        return self.data["EXPECTEDRESULTS"]

    def text(self, field: str) -> str | None:
        return self.data.get(field)

    def hex(self, field: str) -> bytes | None:
        value = self.data.get(field)
        return None if value is None else bytes.fromhex(value)

    @property
    def certificate(self) -> bytes:
        return base64.b64decode(self.data["TESTCTX"]["CERTIFICATE"])

    @property
    def clock(self) -> datetime:
        # ISO 8601 in 14 spellings (Z, +hh:mm, +hhmm, 0-9 fraction digits); a clock without a zone is UTC, as
        # the suite's own runner reads it.
        moment = datetime.fromisoformat(self.data["TESTCTX"]["VALIDATIONCLOCK"])
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _load_cases() -> list[Case]:
    cases = []
    for path in sorted(VECTORS.glob("**/2DCode/raw/*.json")):
        parts = path.relative_to(VECTORS).parts  # (country, [schema version,] "2DCode", "raw", file)
        case_id = "/".join(p for p in parts if p not in ("2DCode", "raw"))
        cases.append(Case(case_id, parts[0], path.stem, json.loads(path.read_text(encoding="utf-8"))))
    return cases


CASES = _load_cases() if VECTORS.is_dir() else []
BY_ID = {case.id: case for case in CASES}


def _require_vectors() -> None:
    if not CASES:
        pytest.fail(
            f"the EU DCC test vectors are missing: expected dgc-testdata at {VECTORS} "
            "(kept in the repository under tests/vectors/; see its README.md)"
        )


@cache
def _csv_set_aside() -> dict[str, dict[str, str]]:
    """{step: {case id: upstream issue}} for the known_issues.csv rows that hit a step we run."""
    found: dict[str, dict[str, str]] = {step: {} for step in STEPS}
    with (VECTORS / "known_issues.csv").open(encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            step = CSV_TEST_STEP[row["test_name"]]  # KeyError: a test name we have not classified
            for case in CASES:
                if step is None or step not in case.flags or row["country"] != case.country:
                    continue
                if row["test_set"] in ("", case.name):
                    found[step][case.id] = row["reason"]
    return found


def _kind(step: str, case: Case) -> str:
    if case.id in SET_ASIDE.get(step, ()):
        return "set aside"
    if (step, case.id) in EXPECTED_DEVIATIONS:
        return "deviation"
    return "true" if case.flags[step] else "false"


def _cases_for(step: str) -> list[Any]:
    """One parameter per case that asks for ``step`` (id: the case; set-aside ones end in -set-aside)."""
    if not CASES:  # an empty parameter set would be a skip; a missing folder must fail
        return [pytest.param(None, id="dgc-testdata-missing")]
    params = []
    for case in CASES:
        if step not in case.flags or (step == PICTURE and case.id in NO_PICTURE):
            continue
        suffix = {"set aside": "-set-aside", "deviation": "-expected-deviation"}.get(_kind(step, case), "")
        params.append(pytest.param(case, id=case.id + suffix))
    return params


# --- our layers, one per step ----------------------------------------------------------------------------------


def _compressed(case: Case) -> bytes:
    given = case.hex("COMPRESSED")
    return given if given is not None else wire.b45decode(case.text("BASE45"))


def _cose(case: Case) -> bytes:
    given = case.hex("COSE")
    return given if given is not None else wire.inflate(_compressed(case), DCC_INFLATE_LIMIT)


def _run_unprefix(case: Case) -> tuple[object, object]:
    return wire.strip_prefix(case.text("PREFIX"), DCC_PREFIX), case.text("BASE45")


def _run_b45decode(case: Case) -> tuple[object, object]:
    decoded = wire.b45decode(case.text("BASE45"))
    if case.hex("COMPRESSED") is not None:
        return decoded, case.hex("COMPRESSED")
    inflated = wire.inflate(decoded, DCC_INFLATE_LIMIT)  # ABSENT_COMPRESSED: compare one layer further in
    if case.hex("COSE") is not None:
        return inflated, case.hex("COSE")
    wire.parse_cose(
        inflated, require_tag=False
    )  # ABSENT_COMPRESSED_AND_COSE: it must at least be a COSE_Sign1
    return True, True


def _run_compression(case: Case) -> tuple[object, object]:
    inflated = wire.inflate(_compressed(case), DCC_INFLATE_LIMIT)
    if case.hex("COSE") is not None:
        return inflated, case.hex("COSE")
    wire.parse_cose(inflated, require_tag=False)
    return True, True


def _run_verify(case: Case) -> tuple[object, object]:
    cose = wire.parse_cose(_cose(case), require_tag=False)
    # The case's certificate is the trusted key: no kid lookup (DCC kids hash the certificate, ours the SPKI).
    wire.verify_signature(cose, PublicKey.from_certificate_der(case.certificate), algorithms=DCC_ALGORITHMS)
    return True, True


def _validity(case: Case) -> str:
    """VALID, EXPIRED (clock after exp) or NOT_YET_ISSUED (clock before iat), from the CWT read by our loader."""
    payload = wire.loads_bounded(wire.parse_cose(_cose(case), require_tag=False).payload, "the CWT payload")
    exp, iat = payload[CLAIM_EXP], payload[CLAIM_IAT]
    # RFC 8392 NumericDates may be floats (ES/701-703 and 1501-1503 use them); our own passes use integers only.
    for value in (exp, iat):
        assert isinstance(value, int | float) and not isinstance(value, bool), f"not a NumericDate: {value!r}"
    clock = case.clock.timestamp()
    if clock > exp:
        return "EXPIRED"
    if clock < iat:
        return "NOT_YET_ISSUED"
    return "VALID"


def _run_expiration(case: Case) -> tuple[object, object]:
    return _validity(case), "VALID"


def _picture(case: Case) -> bytes:
    return base64.b64decode(case.text("2DCODE") or case.text("_2DCODE"))


def _run_picture(case: Case) -> tuple[object, object]:
    return decode_frame(load_image(_picture(case))), [case.text("PREFIX")]


RUNNERS: dict[str, Callable[[Case], tuple[object, object]]] = {
    UNPREFIX: _run_unprefix,
    B45DECODE: _run_b45decode,
    COMPRESSION: _run_compression,
    VERIFY: _run_verify,
    EXPIRATION: _run_expiration,
    PICTURE: _run_picture,
}


def _failure(err: CheckpassError) -> str:
    return err.detail or err.code


def _outcome(step: str, case: Case) -> str:
    """What our layer does with a case, in words, for the set-aside report."""
    try:
        actual, reference = RUNNERS[step](case)
    except CheckpassError as err:
        return f"our layer refuses it ({type(err).__name__} {_failure(err)})"
    return "our layer gives the expected layer" if actual == reference else f"our layer gives {actual!r}"


def _check(step: str, case: Case | None) -> None:
    _require_vectors()
    assert case is not None
    kind = _kind(step, case)
    if kind == "set aside":
        # Known to be wrong upstream: our layer still runs on it (and may refuse it, but must not crash);
        # the outcome is reported with -rP and its expected result is not asserted.
        issue = _csv_set_aside()[step][case.id]
        print(f"set aside {case.id} {step} (known_issues.csv: {issue}); {_outcome(step, case)}")
        return
    if kind == "deviation":
        expected, reason = EXPECTED_DEVIATIONS[step, case.id]
        with pytest.raises(PassError) as err:
            RUNNERS[step](case)
        assert _failure(err.value) == expected, reason
        return
    if kind == "true":
        actual, reference = RUNNERS[step](case)
        assert actual == reference
        return
    expected = EXPECTED_FAILURES[step, case.id]
    if step == EXPIRATION:
        assert _validity(case) == expected
    elif step == PICTURE:
        with pytest.raises(InputError) as err:
            RUNNERS[step](case)
        assert err.value.code == expected
    else:
        with pytest.raises(PassError) as err:
            RUNNERS[step](case)
        assert _failure(err.value) == expected


# --- one test per step, one parameter per case ------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases_for(UNPREFIX))
def test_unprefix_gives_the_base45(case):
    _check(UNPREFIX, case)


@pytest.mark.parametrize("case", _cases_for(B45DECODE))
def test_base45_decode_gives_the_compressed_bytes(case):
    _check(B45DECODE, case)


@pytest.mark.parametrize("case", _cases_for(COMPRESSION))
def test_inflate_gives_the_cose(case):
    _check(COMPRESSION, case)


@pytest.mark.parametrize("case", _cases_for(VERIFY))
def test_signature_verifies_with_the_case_certificate(case):
    _check(VERIFY, case)


@pytest.mark.parametrize("case", _cases_for(EXPIRATION))
def test_validation_clock_lies_between_iat_and_exp(case):
    _check(EXPIRATION, case)


@pytest.mark.parametrize("case", _cases_for(PICTURE))
def test_scanner_reads_the_picture_as_the_prefixed_text(case):
    _check(PICTURE, case)


# --- the tables are what the data says ------------------------------------------------------------------------


def test_vector_suite_is_present_and_complete():
    _require_vectors()
    assert len(CASES) == CASE_COUNT
    assert (VECTORS / "known_issues.csv").is_file()


def test_every_flag_is_a_step_we_run_or_is_classified():
    _require_vectors()
    flags = {flag for case in CASES for flag in case.flags}
    assert flags - set(STEPS) == set(NOT_APPLICABLE)


def test_set_aside_list_is_the_one_known_issues_csv_gives():
    _require_vectors()
    derived = {step: set(ids) for step, ids in _csv_set_aside().items() if ids}
    assert derived == {step: set(ids) for step, ids in SET_ASIDE.items()}


def test_expected_failures_cover_exactly_the_false_flags():
    _require_vectors()
    false_flags = {(step, case.id) for case in CASES for step in STEPS if case.flags.get(step) is False}
    assert false_flags == set(EXPECTED_FAILURES)


def test_expected_deviations_are_true_flags_not_set_aside():
    _require_vectors()
    for step, case_id in EXPECTED_DEVIATIONS:
        assert BY_ID[case_id].flags[step] is True
        assert case_id not in SET_ASIDE.get(step, ())


def _lacks(case: Case, *fields: str) -> bool:
    return all(case.data.get(field) is None for field in fields)


def test_absent_layers_are_the_declared_ones():
    _require_vectors()
    asks = {step: [case for case in CASES if step in case.flags] for step in STEPS}
    no_compressed = {c.id for c in asks[B45DECODE] + asks[COMPRESSION] if _lacks(c, "COMPRESSED")}
    no_cose = {c.id for c in asks[COMPRESSION] + asks[VERIFY] + asks[EXPIRATION] if _lacks(c, "COSE")}
    no_png = {c.id for c in asks[PICTURE] if _lacks(c, "2DCODE")}
    assert no_compressed == set(ABSENT_COMPRESSED) | set(ABSENT_COMPRESSED_AND_COSE)
    assert no_cose == set(ABSENT_COMPRESSED_AND_COSE)
    assert no_png == set(PICTURE_UNDER_UNDERSCORE_KEY) | set(NO_PICTURE)
    assert all(BY_ID[i].text("_2DCODE") for i in PICTURE_UNDER_UNDERSCORE_KEY)
    assert all(_lacks(BY_ID[i], "_2DCODE") for i in NO_PICTURE)


def test_misspelt_expired_flag_is_not_an_expiry_claim():
    """EXPTECTEDEXPIRED: true would mean 'expired'; yet every such case is valid at its clock. Ignoring it is right."""
    _require_vectors()
    flagged = [case for case in CASES if "EXPTECTEDEXPIRED" in case.flags]
    assert {case.id for case in flagged} == set(_ids("BG", 1, 2, 3, 4) + _ids("ES", 201, 202, 203))
    assert {_validity(case) for case in flagged} == {"VALID"}


def _stand_in(step: str, case: Case) -> bool:
    if step == B45DECODE:
        return _lacks(case, "COMPRESSED")
    if step == COMPRESSION:
        return _lacks(case, "COMPRESSED") or _lacks(case, "COSE")
    if step in (VERIFY, EXPIRATION):
        return _lacks(case, "COSE")
    return step == PICTURE and _lacks(case, "2DCODE") and case.id not in NO_PICTURE


def test_counts_per_step(capsys):
    """The tally reported with this run: how many cases each step ran, set aside, or could not run."""
    _require_vectors()
    counts = {}
    for step in STEPS:
        tally: Counter[str] = Counter()
        for case in CASES:
            if step not in case.flags:
                continue
            if step == PICTURE and case.id in NO_PICTURE:
                tally["not runnable"] += 1
                continue
            tally[_kind(step, case)] += 1
            tally["stand-in layer"] += _stand_in(step, case)
        counts[step] = {k: tally[k] for k in EXPECTED_COUNTS[step]}
    with capsys.disabled():
        print("\nDCC vectors per step:", *(f"  {step}: {tally}" for step, tally in counts.items()), sep="\n")
    assert counts == EXPECTED_COUNTS
