"""What ``consent-gateway`` writes to its log: uvicorn's lines, the gateway's own warnings in the same
format (an upstream that fails, a page that cannot be rewritten), and an access log without full addresses.

The configuration is a ``logging.config.dictConfig`` dictionary, so every worker process applies it
for itself (``uvicorn.Config.configure_logging``), the access-log filter included.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from gateway.net.addresses import anonymise


class AnonymousAccessLog(logging.Filter):
    """The client address of an access-log line cut to /24 (IPv6 /48), as in the consent record, and its
    port dropped: a privacy product keeps no visitor's full address, in its log neither."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            record.args = (anonymous_client(record.args[0]), *record.args[1:])
        return True


def anonymous_client(client: str) -> str:
    """uvicorn's ``host:port`` (``::1:5000`` for IPv6; empty on a Unix socket) as the anonymised address."""
    if not client:
        return client
    host = client.rsplit(":", 1)[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "-"
    return anonymise(address) or "-"


def log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration, with the ``gateway`` loggers beside ``uvicorn.error`` and the
    access log anonymised."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["anonymous"] = {"()": f"{__name__}.AnonymousAccessLog"}
    config["handlers"]["access"]["filters"] = ["anonymous"]
    config["loggers"]["gateway"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
