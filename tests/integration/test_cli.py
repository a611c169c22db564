"""The installed `checkpass` and `checkpoint` commands, end to end, as docs/design.md ("Contracts") says."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class Station:
    """A bureau home and a checkpoint home side by side, with the commands run as a user would."""

    def __init__(self, tmp: Path, database_url: str | None) -> None:
        self.tmp = tmp
        self.server_home = tmp / "bureau"
        self.checkpoint_home = tmp / "checkpoint"
        self.server_home.mkdir()
        self.checkpoint_home.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKPASS_", "CHECKPOINT_"))}
        self.env |= {"CHECKPASS_HOME": str(self.server_home), "CHECKPOINT_HOME": str(self.checkpoint_home)}
        if database_url:
            self.env["CHECKPASS_DATABASE_URL"] = database_url

    def run(self, program: str, *args: str | Path, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(BIN / program), *map(str, args)],
            env=self.env,
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == expect, (
            f"{program} {args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
        assert "Traceback" not in done.stderr, done.stderr
        if expect == 2:
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        return done

    def json(self, program: str, *args: str | Path, expect: int = 0) -> dict:
        return json.loads(self.run(program, *args, expect=expect).stdout)

    def application(self, **changes) -> Path:
        data = json.loads((EXAMPLES / "application.json").read_text(encoding="utf-8"))
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        data |= {"valid_from": start.isoformat(), "valid_until": (start + timedelta(days=7)).isoformat()}
        data |= changes
        path = self.tmp / f"application-{len(list(self.tmp.glob('application-*')))}.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return path

    def scenario(self, **data) -> Path:
        path = self.tmp / f"scenario-{len(list(self.tmp.glob('scenario-*')))}.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return path

    def issue(self, out: str = "pass") -> dict:
        self.run("checkpass", "issue", self.application(), "--out", self.tmp / out)
        return json.loads((self.tmp / out / "pass.json").read_text(encoding="utf-8"))

    def publish(self) -> None:
        """Export the bureau's current bundle and carry it to the checkpoint."""
        self.run("checkpass", "bundle", "export", "--out", self.tmp / "bundle.cose")
        self.run(
            "checkpoint",
            "bundle",
            "import",
            self.tmp / "bundle.cose",
            "--root",
            self.server_home / "keys" / "root.pub.pem",
        )


@pytest.fixture
def station(tmp_path) -> Station:
    station = Station(tmp_path, None)
    station.run("checkpass", "init")
    return station


CREW = [
    {"role": "driver", "name": "张伟", "temperature_c": 36.5},
    {"role": "escort", "name": "李娜", "temperature_c": "36.7"},
]


def test_issue_verify_decide_revoke_on_both_databases(tmp_path, database_url):
    s = Station(tmp_path, database_url)
    first = s.run("checkpass", "init").stdout
    assert "root key" in first and "issuer key" in first
    assert "nothing, all present" in s.run("checkpass", "init").stdout  # idempotent

    claims = s.issue()
    out = tmp_path / "pass"
    assert sorted(p.name for p in out.iterdir()) == [
        "pass.json",
        "pass.pdf",
        "pass.png",
        "pass.svg",
        "pass.txt",
    ]
    assert (out / "pass.pdf").read_bytes().startswith(b"%PDF")
    assert claims["driver"]["id_number"] == "320583********1234"  # masked: full numbers stay on the server
    assert "320583198503121234" not in (out / "pass.txt").read_text() + json.dumps(claims)
    text = (out / "pass.txt").read_text().strip()
    assert text.startswith("CP1:")

    s.publish()
    report = s.json("checkpoint", "verify", "--text", text, "--json")
    assert report["valid"] is True
    assert report["pass_id"] == claims["pass_id"]
    assert report["reasons"][0]["code"] == "PASS_VALID"
    assert report["claims"]["plate"] == "苏E·A1234"
    assert report["claims"]["origin"]["name"] == "江苏省 苏州市 昆山市"
    assert report["claims"]["enterprise_name"] == "昆山精密机械有限公司"
    assert len(report["kid"]) == 16
    assert s.json("checkpoint", "verify", out / "pass.png", "--json")["pass_id"] == claims["pass_id"]

    scenario = s.scenario(
        **{
            "pass": text,
            "observed": {"plate": "苏E A1234", "identity_confirmed": True, "licence_confirmed": True},
            "occupants": CREW,
        }
    )
    decision = s.json("checkpoint", "decide", scenario, "--json")
    assert decision["outcome"] == "RELEASE"
    assert decision["pass_id"] == claims["pass_id"]
    assert decision["policy_version"] == 1 and decision["bundle_version"] >= 1

    s.run("checkpass", "revoke", claims["pass_id"], "--reason", "vehicle sold")
    s.publish()
    revoked = s.json("checkpoint", "verify", "--text", text, "--json", expect=3)
    assert (revoked["valid"], revoked["reasons"][0]["code"]) == (False, "PASS_REVOKED")
    assert s.json("checkpoint", "decide", scenario, "--json")["outcome"] == "REFUSE"


def test_key_rotation_keeps_old_passes_until_the_key_is_retired(station):
    old = station.issue("old")
    old_kid = station.json("checkpass", "keys", "list", "--json")[0]["kid"]
    station.run("checkpass", "keys", "rotate")
    new = station.issue("new")
    keys = station.json("checkpass", "keys", "list", "--json")
    issuers = {k["kid"]: k["status"] for k in keys if k["role"] == "issuer"}
    assert issuers[old_kid] == "previous" and list(issuers.values()).count("active") == 1
    assert all(k["public_key"].startswith("-----BEGIN PUBLIC KEY-----") and k["alg"] == "EdDSA" for k in keys)
    station.publish()
    for name, claims in (("old", old), ("new", new)):
        assert (
            station.json("checkpoint", "verify", station.tmp / name / "pass.png", "--json")["pass_id"]
            == claims["pass_id"]
        )
    station.run("checkpass", "keys", "retire", old_kid)
    station.publish()
    report = station.json("checkpoint", "verify", station.tmp / "old" / "pass.png", "--json", expect=3)
    assert report["reasons"][0]["code"] == "PASS_UNKNOWN_KEY"
    station.run("checkpoint", "verify", station.tmp / "new" / "pass.png", "--json")


def test_private_keys_are_owner_only_files(station):
    keys = sorted((station.server_home / "keys").glob("*.key.pem"))
    assert len(keys) == 2
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)


def test_policy_set_makes_a_new_signed_version_the_checkpoint_applies(station):
    assert station.json("checkpass", "policy", "show", "--json")["version"] == 1
    policy = station.json(
        "checkpass",
        "policy",
        "set",
        "--hard-hit",
        "420000,310000",
        "--fever-threshold",
        "37.5",
        "--pass-mandatory",
        "yes",
        "--json",
    )
    assert (policy["version"], policy["hard_hit"], policy["fever_threshold_c"], policy["pass_mandatory"]) == (
        2,
        ["310000", "420000"],
        "37.5",
        True,
    )
    assert station.json("checkpass", "policy", "show", "--json") == policy
    station.publish()
    no_pass = station.scenario(observed={"plate": "浙A12345"}, occupants=[CREW[0]], vehicle_origin="330100")
    decision = station.json("checkpoint", "decide", no_pass, "--json")
    assert decision["outcome"] == "REFUSE"
    assert [r["code"] for r in decision["reasons"]] == ["NO_PASS", "PASS_REQUIRED"]
    assert decision["policy_version"] == 2
    warm = station.scenario(observed={"plate": "浙A12345"}, occupants=[dict(CREW[0], temperature_c=37.4)])
    assert (
        station.json("checkpoint", "decide", warm, "--json")["outcome"] == "REFUSE"
    )  # 37.4 < 37.5: no fever


def test_hard_hit_vehicle_without_a_pass_needs_an_escort_from_a_registered_enterprise(station):
    station.run("checkpass", "policy", "set", "--hard-hit", "420000")
    station.issue()  # registers the demo enterprise in the bundle's directory
    station.publish()
    scenario = station.scenario(
        observed={"plate": "鄂A·12345"}, occupants=[CREW[0]], enterprise="91320583MA1XY71231"
    )
    decision = station.json("checkpoint", "decide", scenario, "--json")
    assert decision["outcome"] == "ESCORT_REQUIRED"
    assert decision["hard_hit"] == ["420000"]
    assert "pass_id" not in decision


def test_bundle_import_refuses_forgery_rollback_and_an_unpinned_root(station):
    station.run("checkpass", "bundle", "export", "--out", station.tmp / "v1.cose")
    station.run("checkpoint", "bundle", "import", station.tmp / "v1.cose", expect=2)  # no root pinned yet
    root = station.server_home / "keys" / "root.pub.pem"
    station.run("checkpoint", "bundle", "import", station.tmp / "v1.cose", "--root", root)
    station.run("checkpass", "policy", "set", "--fever-threshold", "37.4")
    station.run("checkpass", "bundle", "export", "--out", station.tmp / "v2.cose")
    station.run("checkpoint", "bundle", "import", station.tmp / "v2.cose")
    err = station.run("checkpoint", "bundle", "import", station.tmp / "v1.cose", expect=2).stderr
    assert "older" in err
    forged = bytearray((station.tmp / "v2.cose").read_bytes())
    forged[len(forged) // 2] ^= 0x01
    (station.tmp / "forged.cose").write_bytes(bytes(forged))
    station.run("checkpoint", "bundle", "import", station.tmp / "forged.cose", expect=2)
    other = station.tmp / "other-root.pem"
    from passcore.keys import generate_signing_key

    other.write_text(generate_signing_key().public.pem)
    assert (
        "different root"
        in station.run(
            "checkpoint", "bundle", "import", station.tmp / "v2.cose", "--root", other, expect=2
        ).stderr
    )


def test_verify_with_a_bundle_file_and_an_instant(station):
    claims = station.issue()
    station.run("checkpass", "bundle", "export", "--out", station.tmp / "b.cose")
    station.run(
        "checkpoint",
        "bundle",
        "import",
        station.tmp / "b.cose",
        "--root",
        station.server_home / "keys" / "root.pub.pem",
    )
    text = (station.tmp / "pass" / "pass.txt").read_text().strip()
    later = (datetime.fromisoformat(claims["valid_until"]) + timedelta(seconds=1)).isoformat()
    report = station.json(
        "checkpoint",
        "verify",
        "--text",
        text,
        "--bundle",
        station.tmp / "b.cose",
        "--at",
        later,
        "--json",
        expect=3,
    )
    assert report["reasons"][0]["code"] == "PASS_EXPIRED"


# --- bad input: exit 2, one line, nothing changed ---------------------------------------------------------------

GARBAGE_IMAGES = {
    "empty.png": b"",
    "random.png": os.urandom(4096),
    "text.png": "这不是图片 not an image".encode(),
    "truncated.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
    "bomb.png": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
        + (60000).to_bytes(4, "big") * 2
        + b"\x08\x00\x00\x00\x00"
        + b"\x00" * 4
    ),
}


@pytest.mark.parametrize("name", sorted(GARBAGE_IMAGES))
def test_garbage_image_files_are_bad_input(station, name):
    station.publish()
    image = station.tmp / name
    image.write_bytes(GARBAGE_IMAGES[name])
    station.run("checkpoint", "verify", image, "--json", expect=2)


def test_an_image_without_a_qr_code_is_bad_input(station):
    from PIL import Image

    station.publish()
    Image.new("RGB", (320, 240), "white").save(station.tmp / "blank.png")
    err = station.run("checkpoint", "verify", station.tmp / "blank.png", expect=2).stderr
    assert "no QR code" in err
    station.run("checkpoint", "verify", station.tmp / "missing.png", expect=2)


@pytest.mark.parametrize("text", ["hello", "HC1:NCFOXN%TS", "CP1:" + "A" * 5000, "CP1:????"])
def test_text_that_is_not_a_valid_pass_exits_3(station, text):
    station.publish()
    report = station.json("checkpoint", "verify", "--text", text, "--json", expect=3)
    assert (report["valid"], report["reasons"][0]["code"]) == (False, "PASS_MALFORMED")


def test_verify_needs_a_bundle_and_exactly_one_source(station):
    station.run("checkpoint", "verify", "--text", "CP1:X", expect=2)  # no bundle imported yet
    station.publish()
    station.run("checkpoint", "verify", expect=2)
    station.run("checkpoint", "verify", "--text", "CP1:X", "--at", "yesterday", expect=2)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps({"occupants": []}),
        json.dumps({"occupants": [{"role": "driver", "name": "张伟"}], "observed": {"plate": "苏EA1234"}}),
        json.dumps(
            {
                "occupants": [{"role": "driver", "name": "张伟", "temperature_c": 45}],
                "observed": {"plate": "苏EA1234"},
            }
        ),
        json.dumps(
            {
                "occupants": [{"role": "driver", "name": "张伟", "temperature_c": 36.5}],
                "observed": {"plate": "苏EA1234"},
                "ocupants": [],
            }
        ),
        json.dumps(
            {
                "occupants": [{"role": "driver", "name": "张伟", "temperature_c": 36.5}],
                "observed": {"plate": "<script>"},
            }
        ),
        json.dumps([1, 2, 3]),
    ],
    ids=[
        "not json",
        "nobody aboard",
        "temperature missing",
        "implausible temperature",
        "typo in a field",
        "hostile plate",
        "not an object",
    ],
)
def test_malformed_scenarios_are_bad_input(station, content):
    station.publish()
    path = station.tmp / "bad.json"
    path.write_text(content, encoding="utf-8")
    station.run("checkpoint", "decide", path, "--json", expect=2)


@pytest.mark.parametrize(
    "changes",
    [
        {
            "driver": {
                "name": "张伟",
                "id_number": "320583198503121235",
                "licence_number": "320583198503121234",
            }
        },
        {"vehicle": {"plate": "XX123", "plate_colour": "blue"}},
        {"enterprise": {"name": "x", "uscc": "91320583MA1XY71232"}},
        {"origin": "999999"},
        {"escorts": [{"name": "李\u200b娜", "id_number": "320583199007054567"}]},
        {"valid_until": "2020-01-01T00:00:00+08:00"},
        {"surprise": True},
    ],
    ids=[
        "ID check digit",
        "plate",
        "USCC check digit",
        "region",
        "zero-width name",
        "window",
        "unknown field",
    ],
)
def test_an_invalid_application_is_refused_and_nothing_is_issued(station, changes):
    path = station.application(**changes)
    err = station.run("checkpass", "issue", path, "--out", station.tmp / "nope", expect=2).stderr
    assert err.startswith("checkpass: error:")
    assert not (station.tmp / "nope").exists()
    assert station.issue()["serial"].endswith("-000001")  # the failed attempt took no number


def test_a_validity_window_longer_than_the_policy_allows_is_refused(station):
    start = datetime.now(UTC)
    path = station.application(
        valid_from=start.isoformat(), valid_until=(start + timedelta(days=31)).isoformat()
    )
    assert (
        "at most 30 days"
        in station.run("checkpass", "issue", path, "--out", station.tmp / "x", expect=2).stderr
    )


def test_unknown_pass_and_bad_options_are_bad_input(station):
    station.run("checkpass", "revoke", "0" * 24, expect=2)
    station.run("checkpass", "revoke", "not-an-id", expect=2)
    station.run("checkpass", "policy", "set", expect=2)
    station.run("checkpass", "policy", "set", "--hard-hit", "12", expect=2)
    station.run("checkpass", "policy", "set", "--fever-threshold", "hot", expect=2)
    station.run("checkpass", "policy", "set", "--pass-mandatory", "maybe", expect=2)
    station.run("checkpass", "issue", station.tmp / "missing.json", "--out", station.tmp / "x", expect=2)
    assert station.json("checkpass", "policy", "show", "--json")["version"] == 1  # nothing changed


def test_revoking_twice_is_harmless(station):
    claims = station.issue()
    station.run("checkpass", "revoke", claims["pass_id"])
    assert "already revoked" in station.run("checkpass", "revoke", claims["pass_id"].upper()).stdout


# --- passes that can grow (issue 10 section 4): ES256 issuer keys, unknown and critical claims ----------------


def test_a_bureau_configured_for_es256_issues_passes_every_checkpoint_verifies(tmp_path):
    s = Station(tmp_path, None)
    s.env["CHECKPASS_ISSUER_ALG"] = "ES256"
    s.run("checkpass", "init")
    first = s.issue("es256")
    algs = {k["role"]: k["alg"] for k in s.json("checkpass", "keys", "list", "--json")}
    assert algs == {"issuer": "ES256", "root": "EdDSA"}

    del s.env["CHECKPASS_ISSUER_ALG"]  # back to the default: the next key is EdDSA, the ES256 one stays valid
    s.run("checkpass", "keys", "rotate")
    second = s.issue("eddsa")
    issuers = [
        (k["alg"], k["status"])
        for k in s.json("checkpass", "keys", "list", "--json")
        if k["role"] == "issuer"
    ]
    assert sorted(issuers) == [("ES256", "previous"), ("EdDSA", "active")]

    s.publish()
    for name, claims in (("es256", first), ("eddsa", second)):
        text = (tmp_path / name / "pass.txt").read_text().strip()
        report = s.json("checkpoint", "verify", "--text", text, "--json")
        assert (report["valid"], report["pass_id"], report["unknown_claims"]) == (True, claims["pass_id"], [])
        assert s.json("checkpoint", "verify", tmp_path / name / "pass.png", "--json")["valid"] is True

    s.env["CHECKPASS_ISSUER_ALG"] = "RS256"
    assert "CHECKPASS_ISSUER_ALG" in s.run("checkpass", "keys", "rotate", expect=2).stderr


def _grown_pass(station: Station, extra: dict, critical=()) -> str:
    """A pass the bureau's own issuer key signs, with claims this checkpoint's version does not know."""
    from passcore import claims as claims_mod
    from passcore import wire
    from passcore.keys import SigningKey

    station.issue("plain")
    issued = wire.read_claims(wire.decode((station.tmp / "plain" / "pass.txt").read_text().strip()).payload)
    kid = next(k["kid"] for k in station.json("checkpass", "keys", "list", "--json") if k["role"] == "issuer")
    key = SigningKey.from_pem((station.server_home / "keys" / f"issuer-{kid}.key.pem").read_bytes())
    cwt = claims_mod.to_cwt(issued)
    cwt[claims_mod.CLAIM_PASS] |= extra.pop("members", {})
    return wire.encode_cwt(cwt | extra, key, critical=critical)


def test_verify_json_names_the_unknown_claims_of_a_pass_that_verifies_and_never_their_values(station):
    text = _grown_pass(station, {-70099: "value-never-shown", "members": {10: "value-never-shown"}})
    station.publish()
    done = station.run("checkpoint", "verify", "--text", text, "--json")
    report = json.loads(done.stdout)
    assert (report["valid"], report["reasons"][0]["code"]) == (True, "PASS_VALID")
    assert report["unknown_claims"] == ["-65537/10", "-70099"]
    assert "value-never-shown" not in done.stdout + done.stderr


def test_scan_json_names_the_unknown_claims_too(station):
    import qrcode

    text = _grown_pass(station, {-70099: "value-never-shown"})
    station.publish()
    shots = station.tmp / "grown-shots"
    shots.mkdir()
    qrcode.make(text, border=4, box_size=6).save(shots / "grown.png")
    done = station.run("checkpoint", "scan", "--source", shots, "--json")
    [line] = [json.loads(line) for line in done.stdout.splitlines()]
    assert (line["valid"], line["unknown_claims"]) == (True, ["-70099"])
    assert "value-never-shown" not in done.stdout + done.stderr


def test_verify_refuses_a_pass_marking_critical_a_claim_it_does_not_understand(station):
    text = _grown_pass(station, {-70099: 1}, critical=[(-70099,)])
    station.publish()
    report = station.json("checkpoint", "verify", "--text", text, "--json", expect=3)
    assert (report["valid"], report["pass_id"]) == (False, None)
    assert (report["reasons"][0]["code"], report["reasons"][0]["detail"]) == (
        "PASS_MALFORMED",
        "CRITICAL_CLAIM_UNKNOWN",
    )
