"""``dorsum conflicts`` runs its queries on Oxigraph; rdflib, the reference engine, gives the same rows.

One test per query, each its own unit of work for the pytest-xdist workers (tests/conftest.py):
rdflib takes about 45 s on each of the two largest, which run with ``--proof`` only.
"""

from __future__ import annotations

import pytest

from reasoner import Knowledge
from reasoner.authoring.conflicts import QUERY_PREFIX, _conflict_rows

from .conftest import ROOT, whole_proof

NAMES = sorted(path.stem for path in (ROOT / "queries").glob(f"{QUERY_PREFIX}*.rq"))
SLOW = ("knowledge-conflicts-topic", "knowledge-conflicts-do-avoid")


def test_every_conflict_query_is_compared(knowledge: Knowledge) -> None:
    assert sorted(name for name in knowledge.queries if name.startswith(QUERY_PREFIX)) == NAMES
    assert len(NAMES) >= 4


@pytest.mark.proof
@pytest.mark.parametrize("name", NAMES)
def test_conflict_query_answers_the_same_with_rdflib_and_oxigraph(
    knowledge: Knowledge, name: str, request: pytest.FixtureRequest
) -> None:
    """rdflib over the whole knowledge, no sample to slice: the two largest queries (about a minute
    each) run with ``--proof`` only (tests/conftest.py), the others always."""
    if not whole_proof(request.config) and name in SLOW:
        pytest.skip("rdflib takes about a minute on this query: it runs with --proof (.ci/run)")
    rows = _conflict_rows(knowledge)[name]
    assert rows == [tuple(row) for row in knowledge.ontology.query(knowledge.queries[name])]
