"""Curator's exceptions. Every message is written for the person who reads it.

    CuratorError                 anything Curator reports instead of a traceback
    ├── ConfigError              a setting or feeds.yaml is wrong; names it
    │   └── SourcesError         feeds.yaml: one `file:line: field: problem` line each (sources.py)
    ├── OpmlError                an OPML file cannot be read (opml.py)
    ├── DatabaseError            the database is unreachable or out of date
    ├── NotFound                 an issue, pick, subscriber or user does not exist
    ├── IllegalTransition        an issue cannot move to the status asked
    ├── InvalidAddress           an email address was refused
    ├── BadToken                 a signed link was forged, altered or expired
    ├── AuthError                a sign-in failed, or the signed-in user may not do this
    │   ├── Forbidden            signed in, but the role (or a missing form token) forbids it
    │   └── TooManyAttempts      too many sign-ins from one client or for one address; wait
    └── DeliveryError            the provider refused the whole send (bad key)
        └── SendRefused          Curator refused to start it (http links for a real send); ops have an alert
"""


class CuratorError(Exception):
    """An error a person can act on; the CLI prints it without a traceback."""


class ConfigError(CuratorError):
    pass


class DatabaseError(CuratorError):
    pass


class NotFound(CuratorError):
    pass


class IllegalTransition(CuratorError):
    pass


class InvalidAddress(CuratorError):
    pass


class BadToken(CuratorError):
    pass


class DeliveryError(CuratorError):
    pass


class SendRefused(DeliveryError):
    pass


class AuthError(CuratorError):
    pass


class Forbidden(AuthError):
    pass


class TooManyAttempts(AuthError):
    """Refused for a while; `retry_after` is the seconds to wait (sent as Retry-After)."""

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after
