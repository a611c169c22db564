"""The whole-suite log scan: nothing personal and no secret in any log line the test suite made the programs write.

Two sources, both scanned when the session ends (``tests/conftest.py``, ``pytest_sessionfinish``):

- in-process: every log record created in the test process (a log-record factory sees each record of every
  logger, uvicorn's own included, whatever handlers it goes to), written as the server would write it
  (``server.ops.logs.JsonFormatter``), with the test and the code line that logged it;
- subprocesses: the log files of the servers the tests start (``track(path)``: ``ServerProcess``, the browser
  tests' server, ``test_request_logs``).

What is looked for: the test data's names, ID numbers, plates, phone numbers and passwords (string literals of
the test modules and the demo data, taken by the name they are given: ``name=``, ``"id_number": …``,
``PASSWORD = …``), any valid resident ID number, mobile number or plate by its shape, every token
``secrets.token_urlsafe`` made in this process, and token shapes for the subprocesses' (API tokens ``cpt_…``,
webhook secrets, a Bearer header, a session cookie, a bare 43-character URL-safe token). A finding names the log
file and its line.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from passcore import ids
from passcore.errors import InputError
from server.ops.logs import JsonFormatter, current_request_id

__all__ = ["Finding", "InProcessLogs", "TokenRecorder", "scan", "test_data_values", "track", "tracked"]

ROOT = Path(__file__).resolve().parents[1]
DATA_SOURCES = ("tests", "server/demo")
_TRACKED: list[Path] = []

_CJK_NAME = re.compile(r"[\u4e00-\u9fff]{2,4}")
_ID_SHAPE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_ID_LITERAL = re.compile(r"\d{17}[\dXx]")
_MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
_PLATE = re.compile(
    r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z]·?[A-HJ-NP-Z0-9]{5,6}(?![A-Z0-9])"
)
_TOKEN_SHAPES = {
    "an API token": re.compile(r"cpt_[A-Za-z0-9_-]{20,}"),
    "a webhook secret": re.compile(r"whsec_[A-Za-z0-9_-]{20,}"),
    "a Bearer header": re.compile(r"[Bb]earer\s+[A-Za-z0-9._~+/=-]{16,}"),
    "a session cookie": re.compile(r"cp_session=[^;\s\"]+"),
    "a 43-character URL-safe token": re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),
}
# Common surnames (and the compound ones the test data uses): what tells a person's name from a place or a role.
_SINGLE_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
_SURNAMES = (*_SINGLE_SURNAMES, "欧阳", "司马", "诸葛", "上官", "东方", "慕容")
_PLACES = ("武汉",)  # a city the test data names where a name is expected (it starts like a surname)
# Which literals are which, by the name the code gives them (an assignment, a keyword, a dict key).
_KINDS = (("password", "password"), ("id_number", "ID number"), ("plate", "plate"), ("phone", "phone number"))


def track(path: Path) -> Path:
    """Scan ``path`` (a subprocess's log file) when the session ends; returns it, for use in place."""
    _TRACKED.append(Path(path))
    return Path(path)


def tracked() -> list[Path]:
    return list(dict.fromkeys(_TRACKED))  # a server started twice writes on into the same file


def _kind_of(label: str) -> str | None:
    low = label.lower()
    for marker, kind in _KINDS:
        if marker in low:
            return kind
    if "name" in low or "contact" in low:
        return "name"
    return None


def _strings(node: ast.AST) -> Iterator[str]:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
            yield inner.value


def _labelled(tree: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """(the name a value is given, the value) for assignments, keyword arguments and dict entries."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    label = leaf.id if isinstance(leaf, ast.Name) else getattr(leaf, "attr", None)
                    if isinstance(label, str) and node.value is not None:
                        yield label, node.value
        elif isinstance(node, ast.keyword) and node.arg:
            yield node.arg, node.value
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    yield key.value, value


def _accept(kind: str, text: str) -> bool:
    if kind == "name":  # a person's name, not a place, a company or a role ("昆山市", "乘客", "押运员")
        return (
            _CJK_NAME.fullmatch(text) is not None
            and text.startswith(_SURNAMES)
            and text not in _SURNAMES
            and text not in _PLACES
        )
    if kind == "ID number":
        return _ID_LITERAL.fullmatch(text) is not None
    if kind == "password":  # not a form field's name ("password", "csrf_token")
        return len(text) >= 8 and re.fullmatch(r"[a-z_]+", text) is None and not re.search(r"\s", text)
    if kind == "phone number":
        return _MOBILE.fullmatch(text) is not None
    return _PLATE.fullmatch(text.replace("·", "")) is not None or _PLATE.fullmatch(text) is not None


def test_data_values(root: Path = ROOT, sources: Iterable[str] = DATA_SOURCES) -> dict[str, str]:
    """value -> kind, for the personal values and passwords written into the test and demo modules."""
    found: dict[str, str] = {}
    for source in sources:
        for path in sorted((root / source).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for label, value in _labelled(tree):
                kind = _kind_of(label)
                if kind is None:
                    continue
                for text in _strings(value):
                    if _accept(kind, text):
                        found[text] = kind
    return found


class TokenRecorder:
    """Every token ``secrets.token_urlsafe`` makes in this process while installed (sessions, API tokens, CSRF,
    reset links, webhook secrets, driver links)."""

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self._original: Callable[..., str] | None = None

    def install(self) -> None:
        self._original = original = secrets.token_urlsafe

        def recording(nbytes: int | None = None) -> str:
            token = original(nbytes)
            self.tokens.add(token)
            return token

        secrets.token_urlsafe = recording

    def uninstall(self) -> None:
        if self._original is not None:
            secrets.token_urlsafe = self._original


class InProcessLogs:
    """Every log record of this process, formatted as the server formats its lines, into ``path``.

    A log-record factory sees each record when it is made, before any logger decides where it goes, so loggers
    that do not propagate (uvicorn's) are seen too. Records are formatted when the test that made them ends: the
    ``extra=`` fields are set on a record only after the factory returns it."""

    def __init__(self, path: Path) -> None:
        self.path, self.formatter = path, JsonFormatter()
        self.pending: list[tuple[logging.LogRecord, str]] = []
        self.test = "(collection)"
        self._lock = threading.Lock()
        self._previous: Callable[..., logging.LogRecord] | None = None
        self._levels: dict[str, int] = {}

    def install(self, loggers: Iterable[str]) -> None:
        previous = self._previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            # The request it was written in, now: the context variable is gone by the time it is formatted.
            record.request_id = current_request_id()
            with self._lock:
                self.pending.append((record, self.test))
            return record

        logging.setLogRecordFactory(factory)
        # Our programs' own INFO and DEBUG lines are made at all only if their loggers let them through.
        for name in loggers:
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(logging.DEBUG)

    def flush(self, next_test: str | None = None) -> None:
        with self._lock:
            records, self.pending = self.pending, []
            if next_test is not None:
                self.test = next_test
        if not records:
            return
        # Made again if something cleared /tmp while the session ran: a lost file must not stop the tests.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            for record, test in records:
                line = json.loads(self.formatter.format(record))
                line["_test"], line["_at"] = test, f"{record.pathname}:{record.lineno}"
                out.write(json.dumps(line, ensure_ascii=False) + "\n")

    def uninstall(self) -> None:
        self.flush()
        if self._previous is not None:
            logging.setLogRecordFactory(self._previous)
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)


@dataclass(frozen=True)
class Finding:
    file: Path
    line: int
    what: str
    text: str

    def __str__(self) -> str:
        excerpt = self.text if len(self.text) <= 300 else self.text[:300] + "…"
        return f"{self.file}:{self.line}: {self.what}\n    {excerpt}"


def _valid_id(text: str) -> bool:
    try:
        ids.validate_id_number(text)
    except InputError:
        return False
    return True


# Fields of a JSON line that say where it came from, not what was logged: code locations (file, line, function),
# and the test that ran. They are not looked at (a function's name may be 43 characters long).
_WHERE = ("stack", "_test", "_at")


def _logged_part(text: str) -> str:
    try:
        line = json.loads(text)
    except ValueError:
        return text
    if not isinstance(line, dict):
        return text
    return json.dumps({k: v for k, v in line.items() if k not in _WHERE}, ensure_ascii=False)


def scan_line(text: str, values: dict[str, str], tokens: set[str]) -> list[str]:
    """What personal data or secrets one log line holds (empty: nothing)."""
    text = _logged_part(text)
    found = [f"{kind} {value!r} of the test data" for value, kind in values.items() if value in text]
    found += [f"a resident ID number {m!r}" for m in _ID_SHAPE.findall(text) if _valid_id(m)]
    found += [f"a mobile number {m!r}" for m in _MOBILE.findall(text)]
    found += [f"a plate {m!r}" for m in _PLATE.findall(text)]
    found += [f"a token made in this process ({t[:6]}…)" for t in tokens if t in text]
    found += [f"{what} ({m[:10]}…)" for what, shape in _TOKEN_SHAPES.items() for m in shape.findall(text)]
    return sorted(set(found))


def scan(paths: Iterable[Path], values: dict[str, str], tokens: set[str]) -> list[Finding]:
    """Every line of every file in ``paths`` that holds personal data or a secret (missing files are skipped:
    a test may track a log its server never got to write)."""
    findings = []
    # Tokens shorter than this are not secrets anyone could reuse (and would match by chance).
    tokens = {t for t in tokens if len(t) >= 16}
    for path in paths:
        if not path.exists():
            continue
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, text in enumerate(lines, start=1):
                findings += [
                    Finding(path, number, what, text.rstrip()) for what in scan_line(text, values, tokens)
                ]
    return findings
