"""Imports flow server -> passcore <- checkpoint_client; passcore stays pure; public surfaces are declared."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_PASSCORE = {
    "sqlmodel",
    "sqlalchemy",
    "fastapi",
    "cv2",
    "httpx",
    "sqlite3",
    "requests",
    "socket",
    "os",
    "subprocess",
    "zxingcpp",
    "server",
    "checkpoint_client",
}


def imported_modules(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, node.module.split(".")[0]


def test_passcore_is_pure():
    offenders = [(p.name, m) for p, m in imported_modules("passcore") if m in FORBIDDEN_IN_PASSCORE]
    assert offenders == []


def test_passcore_reads_no_clock():
    for path in (ROOT / "passcore").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert ".now(" not in source and "time.time(" not in source and "utcnow" not in source, path.name


@pytest.mark.parametrize(
    ("package", "other"), [("server", "checkpoint_client"), ("checkpoint_client", "server")]
)
def test_the_two_programs_never_import_each_other(package, other):
    assert [p.name for p, m in imported_modules(package) if m == other] == []


def test_only_the_frames_module_may_import_cv2():
    users = {p.name for p, m in imported_modules("checkpoint_client") if m == "cv2"}
    assert users <= {"frames.py"}


PUBLIC_MODULES = [
    "passcore.errors",
    "passcore.ids",
    "passcore.claims",
    "passcore.wire",
    "passcore.keys",
    "passcore.trust",
    "passcore.policy",
    "passcore.rules",
    "passcore.reasons",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_surface_is_declared_and_exists(name):
    module = importlib.import_module(name)
    assert module.__all__, name
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []
