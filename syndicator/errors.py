"""One exception root, so callers can catch everything Syndicator raises on purpose.

SyndicatorError
├── ConfigError      the config file is missing or wrong; names the key
├── QueryError       a topic query does not parse; names the position
├── FetchError       a source could not be fetched (network, HTTP status, limits)
├── ParseError       the fetched bytes are not a usable feed
├── StoreError       the state database cannot be used
└── DeliveryError    an alert channel refused or could not be reached
"""

from __future__ import annotations


class SyndicatorError(Exception):
    """Root of every error Syndicator raises deliberately."""


class ConfigError(SyndicatorError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


class QueryError(SyndicatorError):
    def __init__(self, message: str, query: str = "", position: int | None = None) -> None:
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"{message}{where}")
        self.query = query
        self.position = position


class FetchError(SyndicatorError):
    """`status` is the HTTP status when there was one; `retry_after` is seconds the server asked."""

    def __init__(
        self,
        url: str,
        reason: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.url = url
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class ParseError(SyndicatorError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(reason)
        self.url = url
        self.reason = reason


class StoreError(SyndicatorError):
    pass


class DeliveryError(SyndicatorError):
    """`permanent`: the receiver refused this message for good (a webhook's 404); it is never
    retried. Otherwise it is retried with back-off, at the earliest after `retry_after` seconds
    when the receiver asked for that."""

    def __init__(
        self, reason: str, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after
