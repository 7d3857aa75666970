"""Where a store is: a folder (a local Oxigraph store) or the http(s) URL of a SPARQL server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from reasoner.errors import UsageError
from reasoner.store.case_store import CaseStore
from reasoner.store.local import LocalStore
from reasoner.store.remote import RemoteStore

STORE_ENV: Final = "DORSUM_STORE"
DEFAULT_STORE: Final = "dorsum-store"


def default_location() -> str:
    return os.environ.get(STORE_ENV) or DEFAULT_STORE


def is_remote(location: str | Path) -> bool:
    return str(location).startswith(("http://", "https://"))


def open_store(location: str | Path | None = None, *, read_only: bool = False) -> CaseStore:
    """Open a store: a folder (created on first write) or the http(s) URL of a SPARQL endpoint."""
    where = str(location) if location is not None else default_location()
    if not where.strip():
        raise UsageError("empty store location")
    if is_remote(where):
        return RemoteStore(where)
    return LocalStore(Path(where).expanduser(), read_only=read_only)


__all__ = ["DEFAULT_STORE", "STORE_ENV", "default_location", "is_remote", "open_store"]
