"""Log lines for all three tiers (backend, relay, microservice): one JSON
object a line by default, so an operator can grep one request's id across
the tiers' logs; WRITEUP_LOG_FORMAT=plain gives the classic text line for a
terminal. Fields passed as `extra=` (request ids, route, tokens) become keys
of the JSON object, and are appended as key=value in plain mode."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

FORMATS = ("json", "plain")
PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has: anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def _extra(record: logging.LogRecord) -> dict:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_extra(record),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    def __init__(self):
        super().__init__(PLAIN)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = _extra(record)
        return text + "".join(f" {k}={v}" for k, v in extra.items()) if extra else text


def formatter(name: str) -> logging.Formatter:
    """The formatter WRITEUP_LOG_FORMAT names ("json" or "plain")."""
    if name not in FORMATS:
        raise ValueError(f"WRITEUP_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {name!r}")
    return JsonFormatter() if name == "json" else PlainFormatter()


def configure(fmt: str, level: str = "INFO") -> None:
    """Root logging for a process that has no framework to do it (the microservice)."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(fmt))
    logging.basicConfig(level=level, handlers=[handler], force=True)
