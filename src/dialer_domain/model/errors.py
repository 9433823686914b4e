"""Errors the core raises. Each message names what was wrong."""

from __future__ import annotations


class DomainError(Exception):
    """A command the current state does not allow, or a value the rules reject."""


class InvalidValue(DomainError, ValueError):
    """A value that breaks an invariant (a priority of 11, a callback in the past ...)."""


class NotAllowed(DomainError):
    """A command the aggregate's current state does not allow."""


class NotFound(DomainError, LookupError):
    """No stream or aggregate with that id."""


class ConcurrencyError(DomainError):
    """Another writer appended to the stream at the same version first; reload and retry."""
