"""The guard in front of the Oxigraph server: ``dorsum serve`` listens here and relays to an
Oxigraph server on a private loopback port.

Oxigraph's own timeout does not hold: a cancelled query keeps its thread busy after the client
left, a streaming answer runs past the limit, and a cancelled CSV answer is HTTP 200 with the
message as a data row. So the guard

* checks each query and update before Oxigraph sees it (size, nesting, SERVICE / FROM / LOAD,
  updates on a read-only endpoint): HTTP 400 with one line;
* reads the whole answer before sending any of it, up to the byte cap (HTTP 413) and within the
  time limit: at the limit it answers HTTP 503 and KILLS the Oxigraph server, then starts a new
  one (about 50 ms for a read-only store), because killing the process is the only thing that
  truly stops the work; queries in flight at that moment get HTTP 503 too;
* counts the answer's rows (HTTP 413 over the row cap), so a cut or cancelled answer never
  reaches a client as data;
* restarts a crashed server, and gives up with a clear message (the server's last words) when it
  crashes again and again at start.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

import pyoxigraph as ox

from reasoner.errors import DorsumError, one_line
from reasoner.pipeline.query_budget import QueryBudget, check_query_text
from reasoner.store.case_store import DORSUM_IRIS
from reasoner.store.errors import StoreError

Notify = Callable[[str], None]
UpstreamArgs = Callable[[int], list[str]]

START_TIMEOUT_S: Final = 30.0
QUICK_CRASH_S: Final = 2.0
MAX_QUICK_CRASHES: Final = 5
MAX_CONCURRENT: Final = 32
RESTARTED: Final = "the query server was restarted (a query over its limit, or a crash); retry"
CHUNK: Final = 64 * 1024
_HOP_HEADERS: Final = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "te", "upgrade"}


class EndpointError(DorsumError):
    """An HTTP error answer of the guard: a status and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Upstream:
    """The Oxigraph server process on a private loopback port: killed to stop a query, restarted
    after that or after a crash, given up after repeated crashes at start.

    One watcher thread (:meth:`watch`) starts every replacement, because Linux stops the server
    (PR_SET_PDEATHSIG) when the thread that started it ends, and request threads end.
    """

    def __init__(self, args: UpstreamArgs, env: dict[str, str], notify: Notify) -> None:
        self._args = args
        self._env = env
        self._notify = notify
        self._changed = threading.Condition()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - kept open for the server's life
        self.generation = 0
        self.port = 0
        self.failure = ""
        self.stopping = False
        self._process: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self._quick_crashes = 0
        self._reason = ""

    def start(self) -> None:
        """Start the first server (from the thread that serves, which lives as long as it)."""
        with self._changed:
            self._start()

    def _start(self) -> None:
        while not self.stopping:
            self.port = _free_port()
            self._started = time.monotonic()
            self._process = subprocess.Popen(
                self._args(self.port),
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=self._log,
                preexec_fn=_die_with_parent,
            )
            if self._wait_ready(self._process):
                self.generation += 1
                self._changed.notify_all()
                return
            code = self._process.wait()
            self._quick_crashes += 1
            if self._quick_crashes >= MAX_QUICK_CRASHES:
                self._give_up(code, "failed to start")
                return

    def _give_up(self, code: int, what: str) -> None:
        self.failure = (
            f"the Oxigraph server {what} {self._quick_crashes} times in a row ({_exit_text(code)}); "
            f"its last words: {self.last_words()}; the endpoint stays down"
        )
        self._changed.notify_all()

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.01)
        return False

    def last_words(self) -> str:
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(0, size - 2000))
        lines = [line for line in self._log.read().decode("utf-8", "replace").splitlines() if line.strip()]
        return one_line(Exception(" | ".join(lines[-3:]))) if lines else "(nothing on its output)"

    def current(self) -> tuple[int, int]:
        """The server's generation and port, once a restart in progress is done."""
        with self._changed:
            return self.generation, self.port

    def restart(self, generation: int, reason: str) -> None:
        """Kill the server of ``generation`` (if it is still the current one); return once the
        watcher has started the next one."""
        with self._changed:
            if generation == self.generation and not (self.stopping or self.failure):
                self._reason = reason
                self._kill()
            self._changed.wait_for(
                lambda: self.generation != generation or bool(self.failure) or self.stopping, START_TIMEOUT_S
            )

    def watch(self) -> None:
        """Start a new server whenever the current one stops (killed by :meth:`restart`, or
        crashed); return when stopping or given up."""
        while True:
            with self._changed:
                process = self._process
                if process is None or self.stopping or self.failure:
                    return
            code = process.wait()
            with self._changed:
                if self.stopping:
                    return
                if self._reason:
                    self._notify(f"dorsum: {self._reason}; the Oxigraph server was restarted")
                    self._reason = ""
                else:
                    quick = time.monotonic() - self._started < QUICK_CRASH_S
                    self._quick_crashes = self._quick_crashes + 1 if quick else 1
                    if self._quick_crashes >= MAX_QUICK_CRASHES:
                        self._give_up(code, "crashed")
                        return
                    self._notify(f"dorsum: warning: the Oxigraph server stopped ({_exit_text(code)}); restarting it")
                self._start()

    def stop(self) -> None:
        with self._changed:
            self.stopping = True
            self._kill()
            self._changed.notify_all()

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()


class Guard(ThreadingHTTPServer):
    """The HTTP server users reach; each request is checked, relayed and bounded."""

    daemon_threads = True
    request_queue_size = 128  # many clients at once wait to be accepted, never reset

    def __init__(self, bind: tuple[str, int], upstream: Upstream, budget: QueryBudget, read_only: bool) -> None:
        family = socket.AF_INET6 if ":" in bind[0] else socket.AF_INET
        self.address_family = family
        super().__init__(bind, GuardHandler)
        self.upstream = upstream
        self.budget = budget
        self.read_only = read_only
        self.slots = threading.BoundedSemaphore(MAX_CONCURRENT)


class GuardHandler(BaseHTTPRequestHandler):
    server: Guard
    server_version = "dorsum"
    timeout = 60  # seconds a client may take to send its request (a slow client holds no thread longer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no line per request."""

    def do_GET(self) -> None:
        self._relay()

    def do_POST(self) -> None:
        self._relay()

    def do_PUT(self) -> None:
        self._relay()

    def do_DELETE(self) -> None:
        self._relay()

    def do_HEAD(self) -> None:
        self._relay()

    def do_OPTIONS(self) -> None:
        self._relay()

    def _relay(self) -> None:
        if not self.server.slots.acquire(blocking=False):
            self._send_error(EndpointError(503, f"too many queries at once (at most {MAX_CONCURRENT}); retry"))
            return
        try:
            body = self._read_body()
            path = urllib.parse.urlsplit(self.path).path.rstrip("/")
            if path in ("/query", "/update"):
                self._check(path, body)
            status, headers, answer = self._forward(body, counted=path == "/query")
            self._send(status, headers, answer)
        except EndpointError as error:
            self._send_error(error)
        except OSError:
            pass  # the client went away
        finally:
            self.server.slots.release()

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                raise EndpointError(411, "send the request with a Content-Length")
            return b""
        size = int(length) if length.isdigit() else -1
        limit = max(self.server.budget.max_text_bytes, self.server.budget.max_bytes)
        if size < 0 or size > limit:
            raise EndpointError(413, f"the request body is over {limit} bytes")
        return self.rfile.read(size)

    def _check(self, path: str, body: bytes) -> None:
        field = "query" if path == "/query" else "update"
        fields = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if self.command == "POST" and kind == "application/x-www-form-urlencoded":
            fields.update(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
        texts = fields.get(field, [])
        if self.command == "POST" and kind in ("application/sparql-query", "application/sparql-update"):
            texts = [body.decode("utf-8", "replace")]
        if field == "update" and self.server.read_only:
            raise EndpointError(403, "this endpoint is read-only: SPARQL updates are refused")
        for text in texts:
            try:
                check_query_text(text, self.server.budget, updates=field == "update", store_graphs=DORSUM_IRIS)
            except DorsumError as error:
                raise EndpointError(400, one_line(error)) from error
        for graph in fields.get("default-graph-uri", []) + fields.get("named-graph-uri", []):
            if not graph.startswith(DORSUM_IRIS) and graph not in self.server.budget.allow_service:
                raise EndpointError(400, f"the graph {graph} is not in this store and is never fetched")

    def _forward(self, body: bytes, *, counted: bool) -> tuple[int, list[tuple[str, str]], bytes]:
        upstream, budget = self.server.upstream, self.server.budget
        generation, port = upstream.current()  # waits out a restart in progress
        deadline = time.monotonic() + budget.timeout_s
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=budget.timeout_s)
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            answer = _read_within(response, connection, deadline, budget.max_bytes)
        except TimeoutError:
            upstream.restart(generation, f"a query ran past its time limit of {budget.timeout_s:g} s")
            raise EndpointError(503, f"the query was stopped at its time limit of {budget.timeout_s:g} s") from None
        except (OSError, http.client.HTTPException):
            if upstream.failure:
                raise EndpointError(503, upstream.failure) from None
            raise EndpointError(
                503, "the query server was restarted (a query over its limit, or a crash); retry"
            ) from None
        finally:
            connection.close()
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS]
        if counted and response.status == 200:
            _check_rows(answer, response.getheader("Content-Type", ""), budget.max_rows)
        elif counted and response.status >= 400:  # Oxigraph's own errors, in one line like the guard's
            detail = one_line(Exception(answer[:1000].decode("utf-8", "replace")))
            raise EndpointError(response.status, f"the query server refused the query: {detail}")
        return response.status, kept, answer

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_error(self, error: EndpointError) -> None:
        text = f"dorsum: {one_line(error)}\n".encode()
        self._send(error.status, [("Content-Type", "text/plain; charset=utf-8")], text)


def _read_within(
    response: http.client.HTTPResponse, connection: http.client.HTTPConnection, deadline: float, cap: int
) -> bytes:
    """The whole answer, read before the deadline (TimeoutError) and within the byte cap (413)."""
    parts: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if connection.sock is not None:
            connection.sock.settimeout(remaining)
        part = response.read1(CHUNK) if hasattr(response, "read1") else response.read(CHUNK)
        if not part:
            return b"".join(parts)
        size += len(part)
        if size > cap:
            raise EndpointError(413, f"the answer is larger than {cap} bytes (the byte cap); ask for less (LIMIT)")
        parts.append(part)


def _check_rows(body: bytes, content_type: str, max_rows: int) -> None:
    rows = answer_rows(body, content_type)
    if rows > max_rows:
        raise EndpointError(
            413, f"the answer has {rows} rows, more than the row cap of {max_rows}; ask for less (LIMIT)"
        )


def answer_rows(body: bytes, content_type: str) -> int:
    """How many rows (solutions, or triples) an answer in a SPARQL results or RDF format holds."""
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind == "application/sparql-results+json" or kind == "application/json":
            return len(json.loads(body).get("results", {}).get("bindings", []))
        if kind == "text/csv":
            return max(0, sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8")))) - 1)
        if kind == "text/tab-separated-values":
            return max(0, body.count(b"\n") - 1)
        if kind == "application/sparql-results+xml":
            return body.count(b"<result>") + body.count(b"<result ")
        rdf = ox.RdfFormat.from_media_type(kind)
        if rdf is not None:
            return sum(1 for _ in ox.parse(body, rdf))
    except (ValueError, SyntaxError, AttributeError) as error:
        raise EndpointError(503, f"the query server sent a broken answer: {one_line(error)}") from error
    return 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to stop the server if dorsum dies, so no orphan keeps the port and the store."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_endpoint(
    bind: tuple[str, int], args: UpstreamArgs, env: dict[str, str], budget: QueryBudget, read_only: bool, notify: Notify
) -> None:
    """Serve until SIGINT / SIGTERM; raise StoreError if the port is taken or the server gives up."""
    upstream = Upstream(args, env, notify)
    upstream.start()
    if upstream.failure:
        raise StoreError(upstream.failure)
    try:
        guard = Guard(bind, upstream, budget, read_only)
    except OSError as error:
        upstream.stop()
        raise StoreError(
            f"cannot listen on {bind[0]}:{bind[1]}: {one_line(error)} (is the port already in use?)"
        ) from error

    def stop(_signum: int, _frame: object) -> None:
        upstream.stopping = True
        threading.Thread(target=guard.shutdown, daemon=True).start()

    def watch() -> None:
        upstream.watch()
        if upstream.failure:
            guard.shutdown()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    threading.Thread(target=watch, daemon=True).start()
    try:
        guard.serve_forever(poll_interval=0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        guard.server_close()
        upstream.stop()
    if upstream.failure:
        raise StoreError(upstream.failure)


__all__ = ["EndpointError", "Guard", "Upstream", "answer_rows", "run_endpoint"]
