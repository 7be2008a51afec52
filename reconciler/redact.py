"""Defence in depth against leaking credentials.

Tokens are read from the environment only by `workato/auth`; it registers each value
here. Every log record and every error line the CLI prints passes through `redact`,
so even a bug that formats a header into a message cannot print a secret.
"""

from __future__ import annotations

import logging

__all__ = ["RedactingFilter", "redact", "register_secret"]

_SECRETS: set[str] = set()
_MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words


def register_secret(value: str | None) -> None:
    if value and len(value) >= _MIN_SECRET_LENGTH:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's final message with every registered secret masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            record.msg = redact(record.getMessage())
            record.args = None
        return True
