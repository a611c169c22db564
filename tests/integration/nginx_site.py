"""deploy/nginx/checkpass.conf made runnable on loopback: a self-signed certificate made here, the site's addresses,
ports and paths swapped for the test's (each swap must find its line exactly once, so the file cannot drift away
from what is tested), and Debian's nginx started in the foreground under a temporary prefix."""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import ssl
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "deploy" / "nginx" / "checkpass.conf"
NODES = "    server 10.0.0.11:8000 max_fails=3 fail_timeout=10s;\n    server 10.0.0.12:8000 max_fails=3 fail_timeout=10s;\n"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        message = "Debian's nginx is not installed (scripts/system-deps.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def self_signed(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for ``host`` (an IP address SAN), its key 0600: (certificate, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def trusting(cert: Path) -> ssl.SSLContext:
    """A TLS context that trusts the test's certificate (and nothing else)."""
    return ssl.create_default_context(cafile=str(cert))


def _swap(text: str, old: str, new: str, count: int = 1) -> str:
    assert text.count(old) == count, (
        f"deploy/nginx/checkpass.conf changed: {old.strip()!r} is not there {count}x"
    )
    return text.replace(old, new)


def site_for_test(
    *, upstreams: list[str], https_port: int, http_port: int, cert: Path, key: Path, logs: Path
) -> str:
    """The deploy/ site with the test's nodes, ports, certificate and log files; everything else as shipped."""
    text = SITE.read_text(encoding="utf-8")
    text = _swap(
        text, NODES, "".join(f"    server {address} max_fails=3 fail_timeout=10s;\n" for address in upstreams)
    )
    text = _swap(text, "listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    text = _swap(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
    text = _swap(text, "server_name pass.example.gov.cn;", "server_name 127.0.0.1;", count=2)
    text = _swap(text, "/etc/ssl/checkpass/fullchain.pem", str(cert))
    text = _swap(text, "/etc/ssl/checkpass/privkey.pem", str(key))
    text = _swap(text, "/var/log/nginx/checkpass.access.log", str(logs / "access.log"), count=2)
    return _swap(text, "/var/log/nginx/checkpass.error.log", str(logs / "error.log"))


def main_config(prefix: Path, site: Path) -> str:
    """What Debian's /etc/nginx/nginx.conf gives the site, with every path under ``prefix``."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers write proxy buffers under root's tmp_path
    temp = "".join(
        f"    {kind}_temp_path {prefix / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n{temp}"
        f"    include {site};\n}}\n"
    )


def write_config(prefix: Path, *, upstreams: list[str], https_port: int, http_port: int) -> tuple[Path, Path]:
    """The whole configuration under ``prefix``: (nginx.conf, the certificate)."""
    prefix.mkdir(parents=True, exist_ok=True)
    cert, key = self_signed(prefix)
    site = prefix / "checkpass.conf"
    site.write_text(
        site_for_test(
            upstreams=upstreams, https_port=https_port, http_port=http_port, cert=cert, key=key, logs=prefix
        ),
        encoding="utf-8",
    )
    conf = prefix / "nginx.conf"
    conf.write_text(main_config(prefix, site), encoding="utf-8")
    return conf, cert


def _paths(conf: Path, prefix: Path) -> list[str]:
    # -e: the error log from the very start, before the configuration is read (nginx would first open
    # /var/log/nginx/error.log, which only root may write).
    return ["-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]


def check(conf: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the configuration."""
    return subprocess.run(
        [nginx_binary(), "-t", *_paths(conf, prefix)],
        capture_output=True,
        text=True,
        check=False,
    )


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    prefix: Path
    url: str

    def access_log(self) -> list[str]:
        path = self.prefix / "access.log"
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    def logged(self, request_id: str) -> list[str]:
        """The access log once it holds ``request_id``'s line: nginx writes a line after the answer is sent, so a
        client may read the log before its last request is in it. Lines are written in order of completion."""
        for _ in range(500):
            lines = self.access_log()
            if any(f'"request_id":"{request_id}"' in line for line in lines):
                return lines
            time.sleep(0.02)
        pytest.fail(f"nginx never logged request {request_id}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish requests in flight, then exit
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(conf: Path, prefix: Path, https_port: int, cert: Path) -> Nginx:
    """nginx in the foreground (no daemon), once it answers on its TLS port."""
    checked = check(conf, prefix)
    assert checked.returncode == 0, checked.stderr
    with open(prefix / "nginx.out", "ab") as out:
        process = subprocess.Popen(
            [nginx_binary(), *_paths(conf, prefix), "-g", "daemon off;"], stdout=out, stderr=out
        )
    url = f"https://127.0.0.1:{https_port}"
    for _ in range(300):
        if process.poll() is not None:
            pytest.fail(f"nginx stopped: {(prefix / 'nginx.out').read_text(errors='replace')}")
        try:
            httpx.get(f"{url}/healthz", verify=trusting(cert), timeout=1)
            return Nginx(process, prefix, url)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("nginx did not answer within 30 s")
