"""One exception tree for everything rlcm reports to a user.

    RlcmError                      exit 1 unless a subclass says otherwise
    +-- ConfigError                a YAML problem; carries a Location
    |   +-- ConfigErrors           several ConfigErrors collected from one load
    +-- ApiError                   an answer (or no answer) from Workato
    |   +-- AuthError              401 / 403
    |   +-- NotFoundError          404
    |   +-- ValidationError        400 / 422 with the server's field messages
    |   +-- RateLimitedError       429 after retries ran out
    |   +-- ServerError            5xx after retries ran out
    |   +-- ApiTimeoutError        no answer in time / polling gave up
    |   +-- ConnectionFailedError  the connection could not be made or dropped
    |   +-- ProtocolError          an answer we cannot parse (HTML, bad JSON, wrong types)
    |   +-- PackageError           a package zip that is too big, not a zip or unsafe
    +-- StateError                 unreadable, corrupt or unknown-version state
    |   +-- LockError              state is locked by someone else
    +-- PlanError                  the plan cannot be built (e.g. unresolvable asset)
    |   +-- StalePlanError         a saved plan no longer matches state or live
    +-- UnsafePlanError            a plan that breaks a safety rule without its flag

Messages are single lines meant for people; they never contain a secret.
The CLI prints `Error: <message>` and exits with `exit_code`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ApiError",
    "ApiTimeoutError",
    "AuthError",
    "ConfigError",
    "ConfigErrors",
    "ConnectionFailedError",
    "Location",
    "LockError",
    "NotFoundError",
    "PackageError",
    "PlanError",
    "ProtocolError",
    "RateLimitedError",
    "RlcmError",
    "ServerError",
    "StalePlanError",
    "StateError",
    "UnsafePlanError",
    "ValidationError",
]


@dataclass(frozen=True, order=True)
class Location:
    """A position in a config file; line and col are 1-based as editors show them."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


class RlcmError(Exception):
    """Root of every error rlcm reports to a user."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(RlcmError):
    """One problem in the YAML config, at a location."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.location = location
        self.detail = message
        super().__init__(f"{location}: {message}" if location else message)


class ConfigErrors(RlcmError):
    """All the problems found in one load, sorted by position."""

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        self.errors: list[ConfigError] = sorted(errors, key=_error_sort_key)
        count = len(self.errors)
        first = self.errors[0].message if self.errors else "invalid config"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(first + more)

    def lines(self) -> list[str]:
        return [error.message for error in self.errors]


def _error_sort_key(error: ConfigError) -> tuple[str, int, int, str]:
    loc = error.location or Location("")
    return (loc.file, loc.line, loc.col, error.detail)


class ApiError(RlcmError):
    """An API call failed. `method` and `path` name the call; never a token."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        field_errors: dict[str, Sequence[str]] | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.server_message = message
        self.field_errors = dict(field_errors or {})
        call = f"{method} {path}".strip()
        code = f" ({status})" if status else ""
        fields = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(self.field_errors.items()))
        text = f"{call}{code}: {message}" if call else message
        super().__init__(f"{text} [{fields}]" if fields else text)

    def about(self, subject: str) -> ApiError:
        """The same error, first naming what in the config the call was made for, e.g.
        `manifest crm-sync (manifests.yaml:12:1): GET ... (404): Not found`."""
        import copy

        clone = copy.copy(self)
        clone.message = f"{subject}: {self.message}"
        clone.args = (clone.message,)
        return clone


class AuthError(ApiError):
    """401/403: the token (or legacy email+token) was refused."""


class NotFoundError(ApiError):
    """404: the id in the path does not exist (or is not visible to this token)."""


class ValidationError(ApiError):
    """400/422: Workato refused the request body or parameters."""


class RateLimitedError(ApiError):
    """429 that persisted after the client's retries."""


class ServerError(ApiError):
    """5xx that persisted after the client's retries."""


class ApiTimeoutError(ApiError):
    """No answer within the timeout, or a job that did not finish in time."""


class ConnectionFailedError(ApiError):
    """The connection could not be established or was dropped."""


class ProtocolError(ApiError):
    """An answer that is not what the documents describe (HTML, bad JSON, wrong types)."""


class PackageError(ApiError):
    """A package that is too big, not a zip, or carries unsafe entries."""


class StateError(RlcmError):
    """The state file cannot be read, written or trusted."""


class LockError(StateError):
    """Another process holds the state lock."""


class PlanError(RlcmError):
    """The plan cannot be built from the config and live state."""


class StalePlanError(PlanError):
    """A saved plan whose state serial or live fingerprint has moved."""


class UnsafePlanError(PlanError):
    """A plan that exceeds the safety thresholds and was not forced."""
