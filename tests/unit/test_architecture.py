"""Imports flow server -> passcore <- checkpoint_client; passcore stays pure; public surfaces are declared; no
module takes part in an import cycle; each server domain keeps pages, API, shapes and tables where its rule says."""

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
    "passcore.keycerts",  # issue 15 (E): root statements about bundle-signing keys and successor roots
    "passcore.trust",
    "passcore.policy",
    "passcore.rules",
    "passcore.reasons",
    "passcore.chain",
    "passcore.crossing",
    "passcore.extensions",
    "passcore.enrolment",
    "passcore.evidence",
    "passcore.handover",
    "passcore.pins",
    "passcore.manifest",
    "passcore.bus_rules",
]


def test_every_passcore_module_declares_its_public_surface():
    modules = {f"passcore.{p.stem}" for p in (ROOT / "passcore").glob("*.py") if p.stem != "__init__"}
    assert modules == set(PUBLIC_MODULES)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_surface_is_declared_and_exists(name):
    module = importlib.import_module(name)
    assert module.__all__, name
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []


PROGRAMS = ("passcore", "server", "checkpoint_client")


def module_names(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module of ``packages`` by dotted name (a package is its ``__init__``)."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PROGRAMS) -> dict[str, set[str]]:
    """module -> the modules of ours it imports, from every import statement at any depth (a function's too).

    ``from a.b import c`` depends on ``a.b.c`` when that is a module, else on ``a.b``; relative imports are
    resolved against the importing module's package."""
    modules = module_names(root, packages)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def test_the_cycle_finder_finds_every_cycle_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"f"}, "f": {"e"}, "g": {"g"}}
    assert cycles(graph) == [["a", "b", "c"], ["e", "f"]]


def test_the_import_graph_sees_function_level_and_relative_imports(tmp_path):
    files = {
        "pkg/__init__.py": "from . import a\n",
        "pkg/a.py": "from .sub import b, VALUE\n",
        "pkg/sub/__init__.py": "VALUE = 1\n",
        "pkg/sub/b.py": "def late():\n    from ..a import thing\n    import pkg.c\n",
        "pkg/c.py": "from pkg import sub\nimport os\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert import_graph(tmp_path, ("pkg",)) == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.sub", "pkg.sub.b"},
        "pkg.sub": set(),
        "pkg.sub.b": {"pkg.a", "pkg.c"},
        "pkg.c": {"pkg.sub"},
    }
    assert "server.bundles.service" in import_graph()["server.flows"]


def test_no_import_cycles_between_modules():
    """Cross-domain work lives in one module above the domains (``server.flows``), never in a service that
    imports another inside a function to dodge a cycle."""
    found = cycles(import_graph())
    assert found == [], "import cycles (each a strongly connected set of modules):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in found
    )


# ---- one rule per domain (docs/design.md, "Code layout") ----------------------------------------------------------

DOMAINS = (
    "accounts",
    "alerts",
    "applications",
    "audit",
    "bundles",
    "checkpoints",
    "crossings",
    "departments",
    "documents",
    "driver_links",
    "enterprises",
    "keyring",
    "manifests",
    "notices",
    "officers",
    "ops",  # serves /metrics from its router.py, so the domain rules hold for it (no tables, no shapes)
    "passes",
    "policy",
    "problems",
    "quarantine",
    "regions",
    "retention",
    "web",
)
NOT_DOMAINS = {
    "backup",
    "cli",
    "demo",
    "migrations",
}  # backups, the bureau's commands, demo aids, Alembic: no routes


def domain_modules() -> list[str]:
    return [
        name
        for name in module_names(ROOT, ("server",))
        if name.count(".") == 2 and name.split(".")[1] in DOMAINS
    ]


def is_router_module(module: str) -> bool:
    leaf = module.rpartition(".")[2]
    return leaf == "router" or leaf.startswith("router_")


def test_every_package_of_the_server_is_a_domain_or_known_not_to_be_one():
    packages = {p.name for p in (ROOT / "server").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages - NOT_DOMAINS == set(DOMAINS)


def test_routers_are_made_only_in_router_and_api_modules():
    makers = []
    for name, path in module_names(ROOT, ("server",)).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                called = (
                    node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                )
                if called == "APIRouter":
                    makers.append(name)
    assert makers
    stray = sorted({m for m in makers if not (is_router_module(m) or m.endswith(".api"))})
    assert stray == [], "APIRouter made outside router*.py and api.py: " + ", ".join(stray)


def test_pydantic_shapes_live_in_schemas_and_tables_in_models():
    from pydantic import BaseModel

    misplaced = []
    for name in domain_modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if not (isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == name):
                continue
            home = "models" if hasattr(value, "__table__") else "schemas"
            if name.rpartition(".")[2] != home:
                misplaced.append(f"{name}.{value.__name__} belongs in {home}.py")
    assert misplaced == [], "\n".join(misplaced)


def served_routes(tmp_path):
    """(path, route, documented) of every route the app serves, through included routers (FastAPI includes
    them lazily); documented: the route is in the OpenAPI document."""
    from fastapi.routing import APIRoute

    from server.config import get_settings
    from server.main import create_app

    app = create_app(get_settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'layout.db'}"))
    paths = app.openapi()["paths"]

    def walk(found, prefix):
        for route in found:
            if isinstance(route, APIRoute):
                path = prefix + route.path
                yield path, route, any(m.lower() in paths.get(path, {}) for m in route.methods)
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)

    return list(walk(app.routes, ""))


def test_json_routes_live_in_api_modules_and_pages_in_router_modules(tmp_path):
    from fastapi.responses import HTMLResponse

    routes = served_routes(tmp_path)
    assert len(routes) > 60
    wrong = []
    for path, route, documented in routes:
        module = route.endpoint.__module__
        html = getattr(route.response_class, "value", route.response_class) is HTMLResponse
        if module == "server.main":  # the app's own health check
            continue
        if module.endswith(".api"):
            if not path.startswith("/api/v1/") or not documented or html:
                wrong.append(f"{module}: {path} is not a documented JSON route under /api/v1")
        elif is_router_module(module):
            if path.startswith("/api/") or documented:
                wrong.append(
                    f"{module}: {path} is not a portal page (under /api/ or in the OpenAPI document)"
                )
        else:
            wrong.append(f"{module}: {path} is served from neither router*.py nor api.py")
    assert wrong == [], "\n".join(wrong)
