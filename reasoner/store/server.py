"""``dorsum serve``: the store folder as a standard SPARQL 1.1 endpoint, run by the Oxigraph
server (PyPI package ``oxigraph``) behind dorsum's guard (:mod:`.endpoint`), which checks each
query, stops it at its time limit (by killing and restarting the server) and caps its answer."""

from __future__ import annotations

import ipaddress
import math
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from reasoner.errors import UsageError
from reasoner.pipeline.query_budget import QueryBudget
from reasoner.store.endpoint import run_endpoint
from reasoner.store.errors import StoreNotFoundError
from reasoner.store.local import acquire_lock, looks_like_store
from reasoner.store.location import is_remote

SERVER_ENV: Final = "DORSUM_OXIGRAPH"
DEFAULT_PORT: Final = 7878
DEFAULT_TIMEOUT_S: Final = 30
#: An endpoint's answers are smaller than a command's: each is held whole before it is sent.
DEFAULT_ENDPOINT_MAX_BYTES: Final = 16 * 1024 * 1024
SERVER_THREAD_STACK: Final = 256 * 1024 * 1024  # bytes of (virtual) stack per server thread

Notify = Callable[[str], None]


@dataclass(frozen=True)
class ServeOptions:
    """How to serve a store folder."""

    location: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    read_only: bool = True
    timeout_s: float = DEFAULT_TIMEOUT_S
    union_default_graph: bool = True
    cors: bool = False
    budget: QueryBudget = field(default_factory=lambda: QueryBudget(max_bytes=DEFAULT_ENDPOINT_MAX_BYTES))

    @property
    def bind(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/"


def oxigraph_binary() -> str:
    """The ``oxigraph`` server from the PyPI package ``oxigraph`` (next to this Python, or on PATH)."""
    override = os.environ.get(SERVER_ENV)
    candidates = [override] if override else []
    candidates.append(str(Path(sys.executable).parent / "oxigraph"))
    found = shutil.which("oxigraph")
    if found:
        candidates.append(found)
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise UsageError("the Oxigraph server is not installed: pip install 'oxigraph>=0.5' (or set $DORSUM_OXIGRAPH)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_args(binary: str, folder: Path, options: ServeOptions, port: int) -> list[str]:
    """The Oxigraph server's command line, on a private loopback port behind the guard. Its own
    timeout is later than the guard's, so that the guard, which kills it, always stops first."""
    args = [binary, "serve-read-only" if options.read_only else "serve", "--location", str(folder)]
    args += ["--bind", f"127.0.0.1:{port}", "--timeout-s", str(math.ceil(options.timeout_s) + 5)]
    if options.union_default_graph:
        args.append("--union-default-graph")
    if options.cors:
        args.append("--cors")
    return args


def serve_store(options: ServeOptions, notify: Notify) -> None:
    """Serve the store folder until SIGINT or SIGTERM; ``notify`` gets warnings and status lines.

    Holds the store's lock while serving (shared when read-only, exclusive when writable).
    Raises UsageError for a URL, a writable store on a non-loopback address or a missing server,
    StoreNotFoundError for a missing store, and StoreError if the server stops with an error.
    """
    if is_remote(options.location):
        raise UsageError("serve needs a store folder, not a URL")
    folder = Path(options.location).expanduser()
    if not is_loopback(options.host):
        if not options.read_only:
            raise UsageError(
                f"refusing to serve a writable store on {options.host}: the server has no authentication "
                "(use --host 127.0.0.1, or --read-only behind an authenticating proxy)"
            )
        notify(f"dorsum: warning: serving on {options.host}: anyone who can reach this address can read every case")
    if options.read_only and not looks_like_store(folder):
        raise StoreNotFoundError(f"no store at {folder} (fill one with: dorsum store add CASE --store {folder})")
    if not options.read_only:
        folder.mkdir(parents=True, exist_ok=True)
    binary = oxigraph_binary()
    env = dict(os.environ)
    env.setdefault("RUST_MIN_STACK", str(SERVER_THREAD_STACK))
    lock = acquire_lock(folder, exclusive=not options.read_only)
    mode = "read-only" if options.read_only else "writable"
    budget = options.budget
    notify(
        f"dorsum: serving {folder} ({mode}) at {options.url}  (query page /, SPARQL endpoint /query; "
        f"{budget.timeout_s:g} s, {budget.max_rows} rows, {budget.max_bytes} bytes per query; Ctrl-C stops)"
    )
    try:
        run_endpoint(
            (options.host, options.port),
            lambda port: server_args(binary, folder, options, port),
            env,
            budget,
            options.read_only,
            notify,
        )
    finally:
        if lock is not None:
            lock.close()


__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT_S",
    "SERVER_ENV",
    "ServeOptions",
    "is_loopback",
    "oxigraph_binary",
    "serve_store",
    "server_args",
]
