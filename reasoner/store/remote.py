"""A remote store: a SPARQL 1.1 endpoint with Update and the Graph Store Protocol (an Oxigraph
server, such as ``dorsum serve --writable``), over HTTP. Nothing else touches the network."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, BinaryIO, Final, cast

import pyoxigraph as ox

from reasoner.errors import AnswerTooLargeError, QueryTimeoutError, UsageError, one_line
from reasoner.pipeline.query_budget import QueryBudget
from reasoner.store.case_store import EXPORT_FORMATS, CaseStore, ExportFormat
from reasoner.store.errors import RemoteStoreError, SparqlError
from reasoner.store.sparql import SparqlResult, answer_size, from_json_results, from_ox_triples

HTTP_TIMEOUT: Final = 60.0
_EXPORT_TYPES: Final = {"nquads": "application/n-quads", "trig": "application/trig"}


class RemoteStore(CaseStore):
    """A SPARQL 1.1 endpoint with Update and the Graph Store Protocol (an Oxigraph server).

    ``url`` is the server's base URL; the query, update and graph-store URLs default to
    Oxigraph's ``/query``, ``/update`` and ``/store`` under it.
    """

    def __init__(
        self,
        url: str,
        *,
        query_url: str | None = None,
        update_url: str | None = None,
        store_url: str | None = None,
        timeout: float = HTTP_TIMEOUT,
        union_parameter: str | None = "union-default-graph",
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UsageError(f"'{url}' is not an http(s) URL")
        base = url.rstrip("/")
        self.location = base
        self._ensured = set()
        self.query_url = query_url or f"{base}/query"
        self.update_url = update_url or f"{base}/update"
        self.store_url = store_url or f"{base}/store"
        self.timeout = timeout
        self.union_parameter = union_parameter

    def _request(
        self,
        url: str,
        *,
        method: str,
        body: bytes | None,
        content_type: str | None,
        accept: str,
        budget: QueryBudget | None = None,
    ) -> tuple[str, bytes]:
        headers = {"Accept": accept, "User-Agent": "dorsum"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        timeout = min(self.timeout, budget.timeout_s) if budget is not None else self.timeout
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                if budget is None:
                    return response.headers.get("Content-Type", ""), cast(bytes, response.read())
                return response.headers.get("Content-Type", ""), _read_capped(response, budget)
        except urllib.error.HTTPError as error:
            detail = one_line(Exception(error.read(2000).decode("utf-8", "replace"))) if error.fp else ""
            message = f"{self.location} answered HTTP {error.code}" + (f": {detail}" if detail else "")
            if error.code == 400:
                raise SparqlError(message) from error
            if error.code == 413:
                raise AnswerTooLargeError(message) from error
            if error.code in (503, 504) and budget is not None:
                raise QueryTimeoutError(message) from error
            raise RemoteStoreError(message) from error
        except http.client.HTTPException as error:
            raise RemoteStoreError(f"{self.location} sent a broken answer: {one_line(error)}") from error
        except TimeoutError as error:
            raise QueryTimeoutError(f"{self.location} did not answer within {timeout:g} s") from error
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, TimeoutError):
                raise QueryTimeoutError(f"{self.location} did not answer within {timeout:g} s") from error
            raise RemoteStoreError(f"cannot reach {self.location}: {one_line(Exception(str(reason)))}") from error

    def _query(self, text: str, union_default_graph: bool, budget: QueryBudget | None = None) -> SparqlResult:
        url = self.query_url
        if union_default_graph and self.union_parameter:
            url += ("&" if "?" in url else "?") + self.union_parameter
        content_type, body = self._request(
            url,
            method="POST",
            body=text.encode("utf-8"),
            content_type="application/sparql-query",
            accept="application/sparql-results+json, application/n-triples;q=0.9",
            budget=budget,
        )
        if "n-triples" in content_type or "turtle" in content_type:
            fmt = ox.RdfFormat.N_TRIPLES if "n-triples" in content_type else ox.RdfFormat.TURTLE
            try:
                return from_ox_triples(list(ox.parse(body, fmt)))
            except SyntaxError as error:
                raise RemoteStoreError(f"{self.location} sent malformed RDF: {one_line(error)}") from error
        try:
            return from_json_results(json.loads(body))
        except (ValueError, KeyError, TypeError) as error:
            raise RemoteStoreError(f"{self.location} sent an unreadable answer ({content_type})") from error

    def _bounded_query(self, text: str, union_default_graph: bool, budget: QueryBudget) -> SparqlResult:
        """Ask the server, waiting no longer than the time limit and reading no more than the
        byte cap (the server's own work is bounded by the server: ``dorsum serve`` kills it)."""
        answer = self._query(text, union_default_graph, budget)
        answer_size(answer, budget)
        return answer

    def _update(self, text: str) -> None:
        self._request(
            self.update_url,
            method="POST",
            body=text.encode("utf-8"),
            content_type="application/sparql-update",
            accept="*/*",
        )

    def _put_graph(self, graph_iri: str, ntriples: bytes) -> None:
        url = f"{self.store_url}?{urllib.parse.urlencode({'graph': graph_iri})}"
        self._request(url, method="PUT", body=ntriples, content_type="application/n-triples", accept="*/*")

    def export(self, output: BinaryIO, fmt: ExportFormat = "nquads") -> None:
        accept = _EXPORT_TYPES.get(fmt)
        if accept is None:
            raise UsageError(f"unknown export format '{fmt}' (use one of {', '.join(EXPORT_FORMATS)})")
        _content_type, body = self._request(self.store_url, method="GET", body=None, content_type=None, accept=accept)
        output.write(body)


def _read_capped(response: Any, budget: QueryBudget) -> bytes:
    """The body, or AnswerTooLargeError once it passes the byte cap (never a cut answer)."""
    body = cast(bytes, response.read(budget.max_bytes + 1))
    if len(body) > budget.max_bytes:
        raise AnswerTooLargeError(
            f"the answer is larger than {budget.max_bytes} bytes (the byte cap; raise it with --max-bytes)"
        )
    return body


__all__ = ["HTTP_TIMEOUT", "RemoteStore"]
