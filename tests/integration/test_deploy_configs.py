"""Every configuration file in deploy/ passes its own program's check, and docs/deploy.md shows exactly these files.

- deploy/nginx/checkpass.conf: `nginx -t` (Debian's nginx) with a certificate made here, inside the http block
  Debian's nginx.conf gives a site (tests/integration/nginx_site.py; it is served for real in
  test_nginx_two_nodes.py).
- deploy/systemd/* and the SoftHSM2 drop-in (hsm/softhsm.conf, installed beside both services): `systemd-analyze
  verify` (Debian's systemd). It runs in a container without systemd as PID 1; it checks syntax, unknown keys and
  that ExecStart's program exists, so the venv's path stands in for /opt's.
- deploy/postgresql/checkpass.conf: a cluster is initdb'd and started with it, and every value is read back from
  pg_settings with the snippet as its source (test_read_replica.py also streams a replica from such a primary).
- deploy/checkpass.env: loaded as the server's settings; every name is a setting the server knows.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from server.config import Settings, get_settings
from tests.integration import nginx_site, pg_cluster
from tests.integration.client_helpers import BIN, free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted(path for path in (DEPLOY / "systemd").iterdir() if path.is_file())
SOFTHSM_DROP_IN = DEPLOY / "systemd" / "hsm" / "softhsm.conf"
SETTING = re.compile(r"^([a-z_]+)\s*=\s*(.+?)\s*(?:#.*)?$")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (scripts/system-deps.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_the_nginx_site_passes_nginx_t(tmp_path):
    conf, _cert = nginx_site.write_config(
        tmp_path, upstreams=["127.0.0.1:9", "127.0.0.1:10"], https_port=free_port(), http_port=free_port()
    )
    checked = nginx_site.check(conf, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr and "test is successful" in checked.stderr


def test_nginx_t_catches_a_broken_site(tmp_path):
    """The check above means something: the same site with one directive misspelt fails it."""
    conf, _cert = nginx_site.write_config(
        tmp_path, upstreams=["127.0.0.1:9"], https_port=free_port(), http_port=free_port()
    )
    site = tmp_path / "checkpass.conf"
    site.write_text(site.read_text().replace("proxy_read_timeout", "proxy_read_timeuot"))
    checked = nginx_site.check(conf, tmp_path)
    assert checked.returncode != 0 and "proxy_read_timeuot" in checked.stderr


def _units_for_check(directory: Path) -> list[Path]:
    """The units as shipped, with /opt's checkpass replaced by this venv's (verify checks ExecStart exists)."""
    made = []
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8")
        if "ExecStart=" in text:
            assert "ExecStart=/opt/checkpass/venv/bin/checkpass " in text, unit.name
        copy = directory / unit.name
        copy.write_text(text.replace("/opt/checkpass/venv/bin/checkpass", str(BIN / "checkpass")))
        made.append(copy)
    # A template is verified as an instance too, so %i is expanded as systemd will.
    template = directory / "checkpass-worker@.service"
    instance = directory / "checkpass-worker@1.service"
    shutil.copyfile(template, instance)
    return [*made, instance]


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    assert {unit.name for unit in UNITS} == {
        "checkpass.service",
        "checkpass-worker@.service",
        "checkpass-purge.service",
        "checkpass-purge.timer",
    }
    units = _units_for_check(tmp_path)
    done = subprocess.run(
        [_tool("systemd-analyze"), "verify", *map(str, units)], capture_output=True, text=True, check=False
    )
    # verify exits 0 on unknown keys and only warns: any output at all is a finding.
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), (
        done.stdout + done.stderr
    )


def test_the_softhsm_drop_in_passes_systemd_analyze_verify_on_both_units(tmp_path):
    """Installed as docs/deploy.md says, in each unit's .d directory: systemd loads it (a misspelt key in it is
    reported) and finds nothing wrong with the result."""
    _units_for_check(tmp_path)
    for unit in ("checkpass.service", "checkpass-worker@.service"):
        (tmp_path / f"{unit}.d").mkdir()
        shutil.copyfile(SOFTHSM_DROP_IN, tmp_path / f"{unit}.d" / "softhsm.conf")
    # The trailing colon keeps systemd's own paths after ours.
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"}

    def verify() -> str:
        done = subprocess.run(
            [_tool("systemd-analyze"), "verify", "checkpass.service", "checkpass-worker@1.service"],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return (done.stdout + done.stderr).strip()

    assert verify() == ""
    worker_drop_in = tmp_path / "checkpass-worker@.service.d" / "softhsm.conf"
    worker_drop_in.write_text(worker_drop_in.read_text() + "ReadWritePathz=/tmp\n")
    assert "ReadWritePathz" in verify()


def test_systemd_analyze_verify_catches_a_broken_unit(tmp_path):
    units = _units_for_check(tmp_path)
    broken = tmp_path / "checkpass.service"
    broken.write_text(broken.read_text().replace("Restart=on-failure", "Restart=on-failure\nRestartt=always"))
    done = subprocess.run(
        [_tool("systemd-analyze"), "verify", str(broken)], capture_output=True, text=True, check=False
    )
    assert "Restartt" in done.stdout + done.stderr
    assert units


def _snippet_settings() -> dict[str, str]:
    found = {}
    for line in pg_cluster.PG_SNIPPET.read_text(encoding="utf-8").splitlines():
        matched = SETTING.match(line.strip())
        if matched:
            found[matched.group(1)] = matched.group(2).strip("'")
    return found


def test_a_cluster_starts_with_the_postgresql_snippet_and_takes_every_setting():
    wanted = _snippet_settings()
    assert {"wal_level", "max_wal_senders", "hot_standby_feedback", "max_connections"} <= wanted.keys()
    with pg_cluster.workspace() as (programs, top):
        cluster = pg_cluster.new_primary(programs, top)
        cluster.start()
        try:
            with cluster.connect() as connection:
                for name, value in wanted.items():
                    row = connection.execute(
                        "SELECT current_setting(%s), sourcefile FROM pg_settings WHERE lower(name) = %s",
                        (name, name),
                    ).fetchone()
                    assert row is not None, f"{name}: not a PostgreSQL setting"
                    shown, source = row
                    assert shown == value, f"{name}: the cluster has {shown!r}, the snippet says {value!r}"
                    assert source and source.endswith("/checkpass.conf"), f"{name} came from {source}"
        finally:
            cluster.stop()


def _env_file() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / "checkpass.env").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_the_environment_file_is_settings_the_server_knows(monkeypatch):
    values = _env_file()
    known = {f"CHECKPASS_{name.upper()}" for name in Settings.model_fields}
    ours = {name for name in values if name.startswith("CHECKPASS_")}
    assert ours and ours <= known, f"not settings of the server: {sorted(ours - known)}"
    for name in [name for name in os.environ if name.startswith("CHECKPASS_")]:
        monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    assert settings.read_sqlalchemy_url and settings.read_sqlalchemy_url.startswith("postgresql+psycopg://")
    assert settings.cookie_secure is True
    assert [str(network) for network in settings.trusted_proxies] == ["10.0.0.10/32"]
    assert settings.audit_mode == "queue"
    assert [str(network) for network in settings.metrics_networks] == ["10.0.0.50/32"]


def test_docs_deploy_shows_exactly_the_files_in_deploy():
    """An operator copies from docs/deploy.md: each file of deploy/ is there whole, as a fenced block."""
    docs = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", docs, flags=re.S)
    files = sorted(path for path in DEPLOY.rglob("*") if path.is_file())
    assert files
    for path in files:
        assert path.read_text(encoding="utf-8") in blocks, f"{path.relative_to(ROOT)} is not shown whole"
