"""Logging set-up: one format, and a filter that blanks every configured secret out of every record."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "***"
# Secrets that libraries log before we know them (a login response at DEBUG): blanked by their shape.
_SHAPES = re.compile(
    r"""((?:access_token|refresh_token|password|pickle_key|token)['"]?\s*[:=]\s*['"]?)([^'"&\s,}]+)"""
    r"|\b(syt|syr|xox[abposr]|xapp)[-_][A-Za-z0-9_\-]+",
    re.IGNORECASE,
)


def _mask_shapes(text: str) -> str:
    return _SHAPES.sub(lambda m: f"{m.group(1)}{MASK}" if m.group(1) else MASK, text)


_FILTERS: list[SecretFilter] = []


def hide(*secrets: str) -> None:
    """Secrets learnt while running (an access token from a login) are blanked out from now on too."""
    for log_filter in _FILTERS:
        log_filter.add(secrets)


class SecretFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets: list[str] = []
        self.add(secrets)
        _FILTERS.append(self)

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({*self.secrets, *(s for s in secrets if len(s) >= 4)}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = _mask_shapes(record.getMessage())
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        text = _mask_shapes(record.exc_text or "")
        for secret in self.secrets:
            message = message.replace(secret, MASK)
            text = text.replace(secret, MASK)
        record.msg, record.args = message, None
        if record.exc_text:
            record.exc_text = text
        return True


def setup_logging(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
