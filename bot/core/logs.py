"""Structured logging, one event a line, each naming its instance (several may share one
database), with the bot token redacted wherever it appears."""

from __future__ import annotations

import logging
import sys


class RedactToken(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "[redacted]")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class NameInstance(logging.Filter):
    """Every line says which instance wrote it (`instance=`)."""

    def __init__(self, instance: str) -> None:
        super().__init__()
        self.instance = instance

    def filter(self, record: logging.LogRecord) -> bool:
        record.instance = self.instance
        return True


class RedactingFormatter(logging.Formatter):
    """The whole line redacted, traceback included (an exception's text may hold a URL)."""

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        self._secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        for secret in self._secrets:
            line = line.replace(secret, "[redacted]")
        return line


def setup(level: str = "INFO", secrets: list[str] | None = None, instance: str = "-") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter(
            "%(asctime)s level=%(levelname)s instance=%(instance)s logger=%(name)s %(message)s",
            secrets or [],
        )
    )
    handler.addFilter(NameInstance(instance))
    handler.addFilter(RedactToken(secrets or []))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL, and Bot API URLs contain the token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
