"""``dorsum serve``: a standard SPARQL 1.1 endpoint (the Oxigraph server) over the case store,
used with SPARQLWrapper, curl-like HTTP, a RemoteStore, and the built-in YASGUI page in headless
Chromium. Every server runs on a free loopback port and is stopped by the test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("pyoxigraph")

from rdflib import Graph

from reasoner import Knowledge
from reasoner.batch.run import run_batch
from reasoner.errors import UsageError
from reasoner.store import (
    AskResult,
    LocalStore,
    RemoteStore,
    SelectResult,
    SparqlError,
    StoreBusyError,
    case_record,
    open_store,
)
from reasoner.store.server import oxigraph_binary

from .conftest import EXAMPLES, ROOT, chromium_command

DSTORE = "https://w3id.org/dorsum/store#"
CASE_IDS_QUERY = f"""PREFIX dstore: <{DSTORE}>
SELECT ?caseId WHERE {{ GRAPH ?g {{ ?r dstore:caseId ?caseId }} }} ORDER BY ?caseId"""
START_TIMEOUT = 30.0


def _have_server() -> bool:
    try:
        oxigraph_binary()
    except UsageError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _have_server(), reason="the oxigraph server (PyPI package oxigraph) is missing")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    store: Path
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None


def _http(
    url: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
    timeout: float = 20,
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


def _wait_until_serving(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not server.alive():
            raise AssertionError(f"the server exited: {server.log.read_text(errors='replace')}")
        try:
            status, _ = _http(f"{server.url}/query?query=ASK%7B%7D", timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server did not start in time: {server.log.read_text(errors='replace')}")


@pytest.fixture
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    started: list[Server] = []

    def start(store: Path, *extra: str) -> Server:
        port = _free_port()
        log = tmp_path_factory.mktemp("serve") / "server.log"
        program = "import sys; from reasoner.cli.store import serve; sys.argv[0] = 'dorsum serve'; serve()"
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        with log.open("wb") as stream:
            process = subprocess.Popen(
                [sys.executable, "-c", program, "--store", str(store), "--port", str(port), *extra],
                stdout=stream,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        server = Server(f"http://127.0.0.1:{port}", store, process, log)
        started.append(server)
        _wait_until_serving(server)
        return server

    yield start
    for server in started:
        if server.alive():
            server.process.send_signal(signal.SIGTERM)
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.process.pid, signal.SIGKILL)
                server.process.wait(timeout=10)


@pytest.fixture(scope="module")
def filled_store(knowledge: Knowledge, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("endpoint") / "db"
    with open_store(path) as case_store:
        report = case_store.add(
            run_batch([str(p) for p in sorted(EXAMPLES.iterdir()) if p.is_file()], jobs=1, finish=case_record),
            knowledge,
        )
    assert len(report.stored) == len([p for p in EXAMPLES.iterdir() if p.is_file()])
    return path


@pytest.fixture
def read_only_server(start_server: object, filled_store: Path) -> Server:
    return start_server(filled_store, "--timeout", "3")  # type: ignore[operator, no-any-return]


def _example_ids() -> list[str]:
    """The examples' own ids: each form's id, or the case IRI's last part (lumbar-mass.ttl
    describes <https://w3id.org/dorsum/case/lumbar-mass-rdf>), never the file name."""
    return sorted(
        "lumbar-mass-rdf" if path.stem == "lumbar-mass" else path.stem for path in EXAMPLES.iterdir() if path.is_file()
    )


# ---------------------------------------------------------------- a standard client


def test_select_as_json_with_sparqlwrapper(read_only_server: Server) -> None:
    wrapper = pytest.importorskip("SPARQLWrapper")
    client = wrapper.SPARQLWrapper(f"{read_only_server.url}/query")
    client.setQuery(CASE_IDS_QUERY)
    client.setReturnFormat(wrapper.JSON)
    client.setTimeout(20)
    results = client.query().convert()
    ids = [binding["caseId"]["value"] for binding in results["results"]["bindings"]]
    assert ids == _example_ids()


def test_example_query_over_http_matches_the_local_answer(read_only_server: Server, filled_store: Path) -> None:
    wrapper = pytest.importorskip("SPARQLWrapper")
    text = (ROOT / "queries" / "examples" / "red-flag-frequency.rq").read_text(encoding="utf-8")
    client = wrapper.SPARQLWrapper(f"{read_only_server.url}/query")
    client.setQuery(text)
    client.setReturnFormat(wrapper.JSON)
    remote = {b["redFlag"]["value"]: int(b["cases"]["value"]) for b in client.query().convert()["results"]["bindings"]}
    with RemoteStore(read_only_server.url) as store:
        answer = store.query(text)
    assert isinstance(answer, SelectResult)
    assert {row["redFlag"]: int(row["cases"]) for row in answer.as_dicts()} == remote and remote


def test_construct_as_turtle_with_sparqlwrapper(read_only_server: Server) -> None:
    wrapper = pytest.importorskip("SPARQLWrapper")
    text = (ROOT / "queries" / "examples" / "case-explanation.rq").read_text(encoding="utf-8")
    client = wrapper.SPARQLWrapper(f"{read_only_server.url}/query")
    client.setQuery(text.replace("VALUES ?caseId { UNDEF }", 'VALUES ?caseId { "growing-firm-lump" }'))
    client.setReturnFormat(wrapper.TURTLE)
    client.setTimeout(20)
    data = client.query().convert()
    graph = Graph()
    graph.parse(data=data if isinstance(data, (str, bytes)) else data.serialize(format="turtle"), format="turtle")
    assert len(graph) > 50
    subjects = {str(s) for s in graph.subjects()}
    assert "https://w3id.org/dorsum/result/growing-firm-lump" in subjects
    assert not any("small-soft-lump" in s for s in subjects)


def test_updates_are_rejected_when_read_only(read_only_server: Server) -> None:
    wrapper = pytest.importorskip("SPARQLWrapper")
    client = wrapper.SPARQLWrapper(f"{read_only_server.url}/query", updateEndpoint=f"{read_only_server.url}/update")
    client.setMethod(wrapper.POST)
    client.setQuery("DROP ALL")
    with pytest.raises(Exception, match=r"(?i)403|forbidden|read-only"):
        client.query()
    status, _ = _http(
        f"{read_only_server.url}/store?graph=" + urllib.parse.quote("https://example.org/g"),
        data=b"<https://example.org/a> <https://example.org/b> <https://example.org/c> .",
        headers={"Content-Type": "application/n-triples"},
        method="PUT",
    )
    assert status == 403
    with pytest.raises(Exception, match=r"403"):
        RemoteStore(read_only_server.url).remove("growing-firm-lump")
    assert len(RemoteStore(read_only_server.url).list_cases()) == len(_example_ids())


def test_malformed_and_over_long_queries_leave_the_server_serving(read_only_server: Server) -> None:
    url = f"{read_only_server.url}/query"
    sparql = {"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"}
    status, body = _http(url, data=b"SELECT * WHERE { ?s ?p", headers=sparql)
    assert status == 400 and body
    status, _ = _http(url + "?query=" + urllib.parse.quote("SELEC nonsense"))
    assert status == 400
    long_query = "SELECT * WHERE { VALUES ?x { " + " ".join(f'"{i}"' for i in range(100_000)) + " } } LIMIT 1"
    status, _ = _http(url, data=long_query.encode(), headers=sparql, timeout=60)
    assert status in (200, 400, 413)
    nested = "SELECT * WHERE { FILTER(" + "(" * 20_000 + "1" + ")" * 20_000 + ") }"
    status, _ = _http(url, data=nested.encode(), headers=sparql, timeout=60)
    assert status in (200, 400)
    with pytest.raises(SparqlError):
        RemoteStore(read_only_server.url).query("SELECT * WHERE {")
    answer = RemoteStore(read_only_server.url).query(CASE_IDS_QUERY)
    assert isinstance(answer, SelectResult) and [r["caseId"] for r in answer.as_dicts()] == _example_ids()
    assert read_only_server.alive()


def test_a_server_crash_is_followed_by_a_restart(read_only_server: Server) -> None:
    """A crash of the Oxigraph server (here a SIGSEGV sent to it) is followed by a restart; a
    query nested deeply enough to crash it never reaches it (HTTP 400 from dorsum's guard)."""
    url = f"{read_only_server.url}/query"
    nested = "SELECT * WHERE { FILTER(" + "(" * 2_000_000 + "1" + ")" * 2_000_000 + ") }"
    status, body = _http(url, data=nested.encode(), headers={"Content-Type": "application/sparql-query"}, timeout=60)
    assert status == 400 and b"limit" in body
    for children in Path(f"/proc/{read_only_server.process.pid}/task").glob("*/children"):
        for pid in children.read_text().split():
            os.kill(int(pid), signal.SIGSEGV)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if _http(url + "?query=ASK%7B%7D", timeout=2)[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        raise AssertionError("the server did not come back")
    assert read_only_server.alive()


def test_the_store_folder_is_locked_while_served(read_only_server: Server) -> None:
    with pytest.raises(StoreBusyError):
        LocalStore(read_only_server.store)  # no writer beside a server
    with open_store(read_only_server.store, read_only=True) as reader:  # readers are fine
        assert [case.case_id for case in reader.list_cases()] == _example_ids()


def test_a_long_query_is_stopped_by_the_timeout(read_only_server: Server) -> None:
    text = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # about 10^11 rows
    started = time.monotonic()
    status, body = _http(
        f"{read_only_server.url}/query",
        data=text.encode(),
        headers={"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"},
        timeout=60,
    )
    assert time.monotonic() - started < 30
    assert status == 503 and b"time limit" in body  # never a 200 whose body ends in Oxigraph's "cancelled"
    assert _http(f"{read_only_server.url}/query?query=ASK%7B%7D")[0] == 200


# ---------------------------------------------------------------- a remote store


def test_remote_store_add_list_replace_remove_export(
    knowledge: Knowledge, start_server: object, tmp_path: Path
) -> None:
    server: Server = start_server(tmp_path / "remote-db", "--writable")  # type: ignore[operator]
    with open_store(server.url) as remote:
        assert isinstance(remote, RemoteStore)
        files = [str(EXAMPLES / "growing-firm-lump.yaml"), str(EXAMPLES / "lumbar-mass.ttl")]
        report = remote.add(run_batch(files, jobs=1, finish=case_record), knowledge)
        assert [case.case_id for case in report.stored] == ["growing-firm-lump", "lumbar-mass-rdf"]
        assert [case.case_id for case in remote.list_cases()] == ["growing-firm-lump", "lumbar-mass-rdf"]
        remote.add(run_batch(files[:1], jobs=1, finish=case_record), knowledge)  # replace
        ids = remote.query(CASE_IDS_QUERY)
        assert isinstance(ids, SelectResult) and [r["caseId"] for r in ids.as_dicts()] == [
            "growing-firm-lump",
            "lumbar-mass-rdf",
        ]
        joined = remote.query(
            "PREFIX dx: <https://w3id.org/dorsum/ontology#> ASK { GRAPH <https://w3id.org/dorsum/case/lumbar-mass-rdf/asserted> "
            "{ ?c dx:hasLump ?l } GRAPH <https://w3id.org/dorsum/case/lumbar-mass-rdf/inferred> { ?l ?p ?o } }"
        )
        assert isinstance(joined, AskResult) and joined.value  # skolem IRIs join the case's graphs over HTTP
        remote.remove("lumbar-mass-rdf")
        assert [case.case_id for case in remote.list_cases()] == ["growing-firm-lump"]
        out = tmp_path / "dump.nq"
        with out.open("wb") as stream:
            remote.export(stream, "nquads")
        assert b"https://w3id.org/dorsum/case/growing-firm-lump/result" in out.read_bytes()
        assert b"lumbar-mass-rdf/" not in out.read_bytes()


def test_cli_against_the_endpoint(read_only_server: Server) -> None:
    from click.testing import CliRunner

    from reasoner.cli.store import sparql, store

    listed = CliRunner().invoke(store, ["list", "--store", read_only_server.url, "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert [row["case_id"] for row in json.loads(listed.output)] == _example_ids()
    counted = CliRunner().invoke(sparql, ["red-flag-frequency", "--store", read_only_server.url, "-f", "csv"])
    assert counted.exit_code == 0 and counted.output.startswith("redFlag,label,cases")
    refused = CliRunner().invoke(store, ["remove", "growing-firm-lump", "--store", read_only_server.url])
    assert refused.exit_code == 2 and refused.output.startswith("dorsum: error: ") and "403" in refused.output


# ---------------------------------------------------------------- the query page in a browser


def test_the_query_page_returns_rows_in_headless_chromium(read_only_server: Server) -> None:
    profile = Path(tempfile.mkdtemp(prefix="dorsum-chromium-"))
    command = chromium_command(profile)
    if command is None:
        pytest.skip("no chromium binary (CI installs it with apt-get install chromium)")
    websocket = pytest.importorskip("websocket", reason="websocket-client is needed to drive Chromium")
    args = [*command, "--remote-debugging-port=0", "about:blank"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    try:
        active = profile / "DevToolsActivePort"
        while not (active.is_file() and active.read_text().strip()):
            assert time.monotonic() < deadline and process.poll() is None, "chromium did not start"
            time.sleep(0.1)
        port = active.read_text().split()[0]
        targets = json.loads(_http(f"http://127.0.0.1:{port}/json/list", timeout=10)[1])
        page = next(t for t in targets if t.get("type") == "page")
        connection = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=20, suppress_origin=True)
        counter = 0

        def call(method: str, **params: object) -> dict[str, object]:
            nonlocal counter
            counter += 1
            connection.send(json.dumps({"id": counter, "method": method, "params": params}))
            while True:
                message = json.loads(connection.recv())
                if message.get("id") == counter:
                    return message  # type: ignore[no-any-return]

        def evaluate(expression: str) -> object:
            answer = call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
            return answer.get("result", {}).get("result", {}).get("value")  # type: ignore[union-attr]

        def wait_for(expression: str, what: str) -> object:
            while True:
                value = evaluate(expression)
                if value:
                    return value
                assert time.monotonic() < deadline, f"timed out waiting for {what}"
                time.sleep(0.2)

        call("Page.navigate", url=f"{read_only_server.url}/")
        wait_for(
            "!!(document.querySelector('.yasqe .CodeMirror') && document.querySelector('.yasqe_queryButton'))",
            "the YASGUI editor",
        )
        evaluate(
            "(() => { const e = document.querySelector('.yasqe .CodeMirror').CodeMirror;"
            " e.setValue(''); e.focus(); return true; })()"
        )
        call("Input.insertText", text=" ".join(CASE_IDS_QUERY.split()))  # typed into the editor
        typed = evaluate("document.querySelector('.yasqe .CodeMirror').CodeMirror.getValue()")
        assert "dstore:caseId" in str(typed)
        evaluate("document.querySelector('.yasqe_queryButton').click()")
        text = str(
            wait_for(
                "(() => { const r = document.querySelector('.yasr'); const t = r ? r.innerText : '';"
                " return t.includes('suspected-cauda-equina') ? t : ''; })()",
                "result rows",
            )
        )
        for case_id in _example_ids():
            assert case_id in text
        connection.close()
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)
