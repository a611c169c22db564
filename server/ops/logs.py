"""Log lines as JSON, one object per line, with the request id of the request they were written in.

Nothing personal may reach a log: the request line carries only the method, the route *template*, the status and
the duration (no query string, body, cookie, token or raw path: paths hold pass ids and application numbers).
Our own loggers write counts, ids of deliveries and exception class names, never a name, an ID number or a plate.
An exception is logged by its class and stack frames (file, line, function), without its message: messages of
database errors quote the statement's parameters, and a ``ValueError`` may quote the value it refused.
"""

from __future__ import annotations

import json
import logging
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "REQUEST_FIELDS",
    "JsonFormatter",
    "configure",
    "current_request_id",
    "dict_config",
    "request_id_var",
]

request_id_var: ContextVar[str | None] = ContextVar("checkpass_request_id", default=None)
# The fields a request's line may carry beside the standard ones (``extra=`` of the request logger).
REQUEST_FIELDS = ("method", "route", "status", "duration_ms")
# Our loggers, at the level asked for. Every other library stays at warnings: at INFO, SQLAlchemy's engine logger
# writes every statement with its parameters (names, ID numbers), httpx every URL with its query string.
OURS = ("server", "checkpoint_client", "passcore")


def current_request_id() -> str | None:
    return request_id_var.get()


def _frames(record: logging.LogRecord) -> list[str]:
    if not record.exc_info or record.exc_info[2] is None:
        return []
    return [
        f"{frame.filename}:{frame.lineno} in {frame.name}"
        for frame in traceback.extract_tb(record.exc_info[2])
    ]


class JsonFormatter(logging.Formatter):
    """time (UTC, ISO 8601, milliseconds), level, logger, message, request_id, and the request fields if given."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
            line["stack"] = _frames(record)
        return json.dumps(line, ensure_ascii=False, default=str)


def dict_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` (and uvicorn ``log_config``): everything to stderr as JSON lines."""
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            **{name: {"level": upper} for name in OURS},
            # uvicorn's own handlers would print plain text: ours replace them, and nothing is printed twice.
            "uvicorn": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn.error": {"handlers": [], "level": upper, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }


def configure(level: str = "info") -> None:
    """JSON logs for a command that runs outside uvicorn (a worker)."""
    import logging.config

    logging.config.dictConfig(dict_config(level))
