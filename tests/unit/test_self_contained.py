"""The repository stands alone: a clone with nothing beside it has its specification, its test data, and no text
that points outside it (to a sibling folder or to a path of one particular machine)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Built from parts, so this file does not match its own patterns.
OUTSIDE = (".." + "/shared", "/" + "work/")
# Not the repository's own text: tools' caches and environments, run-time state, generated output, and the
# third-party test vectors (kept byte for byte as published).
SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "node_modules",
    "build",
    "dist",
}
SKIP_PATHS = {"out", "demo-out", "db", "keys", "tests/vectors/dgc-testdata"}
MAX_BYTES = 4 * 1024 * 1024


def _text_files() -> Iterator[Path]:
    def walk(folder: Path) -> Iterator[Path]:
        for entry in sorted(folder.iterdir()):
            relative = entry.relative_to(ROOT).as_posix()
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name in SKIP_DIRS or entry.name.endswith(".egg-info") or relative in SKIP_PATHS:
                    continue
                yield from walk(entry)
            elif entry.is_file() and entry.stat().st_size <= MAX_BYTES:
                yield entry

    for path in walk(ROOT):
        data = path.read_bytes()
        if b"\0" in data:
            continue  # binary
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        yield path


def test_no_text_refers_outside_the_repository():
    offenders = []
    for path in _text_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(pattern in line for pattern in OUTSIDE):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert offenders == [], "\n".join(offenders)


def test_the_walk_reads_the_repository():
    # Guards the test above against passing on nothing: the walk must reach the code, the docs and the tests.
    seen = {path.relative_to(ROOT).as_posix() for path in _text_files()}
    assert {"README.md", "docs/design.md", "passcore/rules.py", "tests/unit/test_self_contained.py"} <= seen
    assert not any(name.startswith("tests/vectors/dgc-testdata/") for name in seen)


def test_the_specification_is_in_docs_and_the_readme_links_it():
    design = ROOT / "docs" / "design.md"
    assert design.is_file()
    assert design.read_text(encoding="utf-8").lstrip().startswith("# ")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"\]\((\./)?docs/design\.md\)", readme), "the README must link docs/design.md"


def test_the_dcc_vectors_are_kept_with_their_licence_and_origin():
    vectors = ROOT / "tests" / "vectors" / "dgc-testdata"
    for name in ("LICENSE", "NOTICE", "README.md", "known_issues.csv"):
        assert (vectors / name).is_file(), name
    assert "4a62c8d" in (vectors / "README.md").read_text(encoding="utf-8")
