"""The store's typed errors: each is a UsageError, so the CLI reports it in one line with exit code 2."""

from __future__ import annotations

from reasoner.errors import UsageError


class StoreError(UsageError):
    """The store cannot be opened, read or written (exit code 2)."""


class StoreBusyError(StoreError):
    """Another process holds the store (a server, or another dorsum command writing to it)."""


class StoreNotFoundError(StoreError):
    """There is no store at the given location."""


class CaseNotFoundError(StoreError):
    """No case with that id is in the store."""


class CaseCollisionError(StoreError):
    """Two different cases (different facts) have one id: the second is not stored."""


class SparqlError(StoreError):
    """A SPARQL query or update was malformed or rejected."""


class RemoteStoreError(StoreError):
    """A remote SPARQL endpoint could not be reached or answered with an error."""


__all__ = [
    "CaseCollisionError",
    "CaseNotFoundError",
    "RemoteStoreError",
    "SparqlError",
    "StoreBusyError",
    "StoreError",
    "StoreNotFoundError",
]
