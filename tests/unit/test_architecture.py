"""Imports flow server -> passcore <- checkpoint_client; passcore stays pure; public surfaces are declared."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
import typer

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


def test_the_server_needs_opencv_and_numpy_only_for_the_demo():
    """They come with the `demo` extra: the server itself installs and runs without them."""
    users = {p.relative_to(ROOT).as_posix() for p, m in imported_modules("server") if m in ("cv2", "numpy")}
    assert {u for u in users if not u.startswith("server/demo/")} == set()


CLI_PACKAGES = ("server.cli", "checkpoint_client.cli")


@pytest.mark.parametrize("package", CLI_PACKAGES)
def test_cli_modules_take_only_public_names_and_nothing_is_loaded_by_discovery(package):
    """Shared helpers come from the public plumbing module; no module reaches into another's private names, and
    the root imports its command groups by name (no pkgutil walk)."""
    private, discovery = [], []
    for path in sorted(ROOT.joinpath(*package.split(".")).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                private += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")]
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            discovery += [f"{path.name}: {m}" for m in modules if m.split(".")[0] in ("pkgutil", "importlib")]
    assert private == []
    assert discovery == []


@pytest.mark.parametrize("package", CLI_PACKAGES)
def test_every_command_group_owns_its_typer_app_and_the_root_adds_it(package):
    root = importlib.import_module(f"{package}.root")
    added = [group.typer_instance for group in root.app.registered_groups]
    groups = sorted(
        path.stem
        for path in ROOT.joinpath(*package.split(".")).glob("*.py")
        if path.stem not in ("__init__", "root", "plumbing")
    )
    for name in groups:
        module = importlib.import_module(f"{package}.{name}")
        assert isinstance(module.app, typer.Typer), name
        assert module.app.registered_commands, name
        assert sum(app is module.app for app in added) == 1, name
    assert len(added) == len(groups)


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
