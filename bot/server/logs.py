"""JSON log lines, one object a line, each with the delivery id it concerns (``null`` for lines that concern no
delivery, such as start-up): ``{"ts": ..., "level": ..., "logger": ..., "message": ..., "delivery_id": ...}``.

The id comes from the log call's ``extra={"delivery_id": ...}`` or else from the context variable ``DELIVERY``,
which the webhook handler and the worker set for the duration of one delivery or job.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import TextIO

DELIVERY: ContextVar[str | None] = ContextVar("guardrail_delivery", default=None)
# uvicorn adds `color_message` (its message with ANSI colour codes) to its records: not a field for a JSON line.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "delivery_id",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "delivery_id": getattr(record, "delivery_id", None) or DELIVERY.get(),
        }
        line |= {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """Send every logger's lines (ours, uvicorn's, huey's) to ``stream`` (stderr) as JSON."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "huey", "huey.consumer"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # huey's per-task lines ("Executing …", "… executed in …") name no delivery; ours ("job started", "job
    # finished") do, so keep only huey's warnings and errors.
    logging.getLogger("huey").setLevel(logging.WARNING)
