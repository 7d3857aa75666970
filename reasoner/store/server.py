"""``dorsum serve``: the store folder as a standard SPARQL 1.1 endpoint, run by the Oxigraph
server (PyPI package ``oxigraph``) and restarted if it crashes."""

from __future__ import annotations

import ctypes
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from reasoner.errors import UsageError
from reasoner.store.errors import StoreError, StoreNotFoundError
from reasoner.store.local import acquire_lock, looks_like_store
from reasoner.store.location import is_remote

SERVER_ENV: Final = "DORSUM_OXIGRAPH"
DEFAULT_PORT: Final = 7878
DEFAULT_TIMEOUT_S: Final = 30
SERVER_THREAD_STACK: Final = 256 * 1024 * 1024  # bytes of (virtual) stack per server thread
PR_SET_PDEATHSIG: Final = 1
QUICK_CRASH_S: Final = 2.0
MAX_QUICK_CRASHES: Final = 5

Notify = Callable[[str], None]


@dataclass(frozen=True)
class ServeOptions:
    """How to serve a store folder."""

    location: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    read_only: bool = True
    timeout_s: int = DEFAULT_TIMEOUT_S
    union_default_graph: bool = True
    cors: bool = False

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


def server_args(binary: str, folder: Path, options: ServeOptions) -> list[str]:
    """The Oxigraph server's command line."""
    args = [binary, "serve-read-only" if options.read_only else "serve", "--location", str(folder)]
    args += ["--bind", options.bind, "--timeout-s", str(options.timeout_s)]
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
    args = server_args(oxigraph_binary(), folder, options)
    lock = acquire_lock(folder, exclusive=not options.read_only)
    mode = "read-only" if options.read_only else "writable"
    notify(f"dorsum: serving {folder} ({mode}) at {options.url}  (query page /, SPARQL endpoint /query; Ctrl-C stops)")
    try:
        code = supervise(args, notify)
    finally:
        if lock is not None:
            lock.close()
    if code != 0:
        raise StoreError(f"the Oxigraph server stopped with exit code {code} (is port {options.port} already in use?)")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to stop the server if dorsum dies, so no orphan keeps the port and the store."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def supervise(args: list[str], notify: Notify) -> int:
    """Run the Oxigraph server and restart it if it crashes; return its exit code once it stops.

    The server aborts on a stack overflow when a query is nested very deeply, taking every
    connection with it. A larger thread stack (RUST_MIN_STACK) makes that need a query nested
    over about 100,000 levels; a restart covers the rest. SIGINT and SIGTERM stop the server.
    """
    env = dict(os.environ)
    env.setdefault("RUST_MIN_STACK", str(SERVER_THREAD_STACK))
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    quick_crashes = 0
    try:
        while True:
            started = time.monotonic()
            child = subprocess.Popen(args, env=env, preexec_fn=_die_with_parent)
            code = child.wait()
            if stopping:
                return 0
            if code >= 0:
                return code
            quick_crashes = quick_crashes + 1 if time.monotonic() - started < QUICK_CRASH_S else 0
            if quick_crashes >= MAX_QUICK_CRASHES:
                return 128 - code
            notify(f"dorsum: warning: the Oxigraph server stopped (signal {-code}); restarting it")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT_S",
    "SERVER_ENV",
    "ServeOptions",
    "is_loopback",
    "oxigraph_binary",
    "serve_store",
    "server_args",
    "supervise",
]
