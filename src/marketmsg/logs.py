"""Structured logs: one JSON object per line (``MARKETMSG_LOG_FORMAT=json``), so that a log system
can follow one message from the gateway to the worker by ``message_id``.

Log lines never carry a real address or a message body (at INFO or above); what identifies a
message is its database ID, and a delivery its own ID.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# Attributes the code passes with ``extra=``, copied into the JSON object when present.
FIELDS = ("message_id", "message_ids", "delivery_id", "state", "attempts", "code")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        for name in FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)
