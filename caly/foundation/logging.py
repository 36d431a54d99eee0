"""Log formatting: JSON lines in production, readable lines locally, secrets redacted.

Logged values come from outside (paths, user agents, browser error reports), so neither format lets
one forge a line: in text every control character and Unicode line break of the message and its
fields is escaped (a newline becomes the two characters \\n) and a traceback's lines are indented;
in JSON they are escaped inside the string, U+2028, U+2029 and NEL included.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from caly.foundation import context

REDACTED = "[REDACTED]"
_SECRET_KEY_NAMES = re.compile(
    r"pass(word)?|secret|token|authorization|api[_-]?key|access[_-]?key|cookie|session|signature|credential",
    re.IGNORECASE,
)
# key=value, key: value and "key": "value" forms, plus bearer/basic credentials in free text.
_SECRET_IN_TEXT = re.compile(
    r"""(?P<key>["']?(?:[\w-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|authorization)[\w-]*)["']?\s*[:=]\s*)"""
    r"""(?P<quote>["']?)(?P<value>(?:Bearer |Basic )?[^\s"',&}]+)""",
    re.IGNORECASE,
)
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=_-]+", re.IGNORECASE)
# An API key anywhere in text (accounts/api_keys.py): its visible prefix stays, its secret does not.
_API_KEY = re.compile(r"\b(caly_live_[a-z0-9]{12}_)[A-Za-z0-9_-]+")
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_CONTEXT_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "user_id", "client_id")
# C0 and C1 controls, DEL and the Unicode line and paragraph separators: whatever a terminal, a log
# shipper or str.splitlines() may take for the end of a line, or use to redraw one.
_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# json.dumps escapes the C0 controls itself; with ensure_ascii=False these pass through raw.
_JSON_RAW_BREAKS = re.compile("[\x7f-\x9f\u2028\u2029]")
TRACEBACK_INDENT = "    "


def redact_text(text: str) -> str:
    text = _SECRET_IN_TEXT.sub(lambda m: f"{m['key']}{m['quote']}{REDACTED}", text)
    text = context.loggable_path(text)
    text = _API_KEY.sub(lambda m: f"{m[1]}{REDACTED}", text)
    return _AUTH_SCHEME.sub(lambda m: f"{m[1]} {REDACTED}", text)


def _escape(match: re.Match) -> str:
    char = match[0]
    return _NAMED_ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape_control_characters(text: str) -> str:
    """`text` on one line: control characters and line breaks written as escapes (a newline as \\n)."""
    return _CONTROL_CHARACTERS.sub(_escape, text)


def redact_value(key: str, value: Any) -> Any:
    if _SECRET_KEY_NAMES.search(key):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(key, v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    # Anything else is written as its str(), and Django's request logs carry the request, whose
    # repr has the path: an object whose text would show a secret is replaced by the redacted text.
    text = str(value)
    redacted = redact_text(text)
    return value if redacted == text else redacted


class RequestContextFilter(logging.Filter):
    """Adds the current request's id, method, path, user and client to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = context.current()
        if current is not None:
            for name in ("request_id", "method", "path", "user_id", "client_id"):
                if getattr(record, name, None) is None:
                    setattr(record, name, getattr(current, name))
        return True


class RedactingFilter(logging.Filter):
    """Removes passwords, tokens, secrets and Authorization headers from message and fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and key not in _CONTEXT_FIELDS:
                setattr(record, key, redact_value(key, value))
        return True


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and v not in (None, "")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(_extra_fields(record))
        if record.exc_info:
            payload["exception"] = redact_text(self.formatException(record.exc_info))
        line = json.dumps(payload, default=str, ensure_ascii=False)
        return _JSON_RAW_BREAKS.sub(lambda m: f"\\u{ord(m[0]):04x}", line)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        fields = _extra_fields(record)
        request_id = fields.pop("request_id", None)
        line = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        if request_id:
            line += f" [{request_id}]"
        line = escape_control_characters(line)
        if record.exc_info:
            # A traceback keeps its lines, each indented: none of them can pass for a record of its own.
            traceback = redact_text(self.formatException(record.exc_info))
            line += "".join(f"\n{TRACEBACK_INDENT}{escape_control_characters(part)}" for part in traceback.splitlines())
        return line


def build_logging_config(*, fmt: str, level: str) -> dict[str, Any]:
    formatter = "caly.foundation.logging.JsonFormatter" if fmt == "json" else "caly.foundation.logging.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "caly.foundation.logging.RequestContextFilter"},
            "redact": {"()": "caly.foundation.logging.RedactingFilter"},
        },
        "formatters": {"default": {"()": formatter}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "default",
                "filters": ["context", "redact"],
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # Our access log replaces runserver lines and 4xx warnings; 5xx keep their stack.
            "django.server": {"level": "WARNING"},
            "django.request": {"level": "ERROR"},
        },
    }
