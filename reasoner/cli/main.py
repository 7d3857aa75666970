"""The ``dorsum`` command group. Every command lives in a module of its command group and is
imported only when it runs (or when its own ``--help`` is asked for):

* :mod:`reasoner.cli.case`: evaluate, validate, query (one case at a time)
* :mod:`reasoner.cli.authoring`: check, test, conflicts, diff, docs (the knowledge)
* :mod:`reasoner.cli.batch`: batch, generate (many cases)
* :mod:`reasoner.cli.store`: store, sparql, serve (the case store)
* :mod:`reasoner.cli.fhir`: questionnaire, evaluate-fhir, hooks (FHIR R4 and CDS Hooks)

So ``dorsum --help`` loads click and nothing heavy: no rdflib, owlrl, pyshacl or pyoxigraph.
"""

from __future__ import annotations

import importlib
import textwrap
from typing import NamedTuple

import click

from reasoner.cli.common import DorsumGroup
from reasoner.errors import EXIT_INTERNAL
from reasoner.version import __version__


class LazyCommand(NamedTuple):
    """Where a command is defined, and its first sentence for ``dorsum --help`` (a test checks
    that it is the command's own)."""

    target: str  # "module:attribute"
    summary: str


LAZY_COMMANDS = {
    "evaluate": LazyCommand(
        "reasoner.cli.case:evaluate",
        "Triage each CASE file: what to do now, the plan, red flags, sources, missing items.",
    ),
    "validate": LazyCommand(
        "reasoner.cli.case:validate", "Check each CASE against the SHACL shapes without triaging it."
    ),
    "query": LazyCommand(
        "reasoner.cli.case:query", "Run a SPARQL QUERY over the inferred graph of CASE (joined with the ontology)."
    ),
    "check": LazyCommand(
        "reasoner.cli.authoring:check",
        "Quality control of the knowledge base: parsing, OWL 2 RL profile, consistency, metadata shapes "
        "(shapes/knowledge-qa.ttl) and SPARQL checks (queries/qc/*-violation.rq).",
    ),
    "test": LazyCommand(
        "reasoner.cli.authoring:test_command",
        "Run golden vignettes (one case and its expected result per YAML file) and report coverage.",
    ),
    "conflicts": LazyCommand(
        "reasoner.cli.authoring:conflicts_command",
        "List every pair of sources that disagree within the knowledge: on a threshold, a first-line test, "
        "an urgency, or an action one recommends and the other says to avoid.",
    ),
    "diff": LazyCommand("reasoner.cli.authoring:diff", "Show what a knowledge edit changes for patients."),
    "docs": LazyCommand(
        "reasoner.cli.authoring:docs",
        "Write a browsable reference of the knowledge: HTML and Markdown pages and an SVG diagram from "
        "findings to red flags to recommendations to urgency.",
    ),
    "batch": LazyCommand(
        "reasoner.cli.batch:batch", "Triage many cases and write one JSON line per case, in input order."
    ),
    "generate": LazyCommand(
        "reasoner.cli.batch:generate",
        "Write COUNT invented case forms as JSONL, one per line, for batches and benchmarks.",
    ),
    "store": LazyCommand(
        "reasoner.cli.store:store",
        "Keep evaluated cases in a persistent case knowledge graph, for SPARQL across cases.",
    ),
    "sparql": LazyCommand(
        "reasoner.cli.store:sparql", "Run a SPARQL QUERY across every case in the store (read-only)."
    ),
    "questionnaire": LazyCommand(
        "reasoner.cli.fhir:questionnaire",
        "Write the FHIR R4 Questionnaire of the case form, generated from the knowledge.",
    ),
    "evaluate-fhir": LazyCommand(
        "reasoner.cli.fhir:evaluate_fhir",
        "Triage each FHIR R4 FILE: a QuestionnaireResponse, or a Bundle with a Patient, responses, "
        "Observations and Conditions coded in the dorsum code system.",
    ),
    "hooks": LazyCommand(
        "reasoner.cli.fhir:hooks",
        "A CDS Hooks 2.0 service for electronic records (needs the extra: pip install 'dorsum[hooks]').",
    ),
    "serve": LazyCommand(
        "reasoner.cli.store:serve",
        "Serve the store as a standard SPARQL 1.1 endpoint, with a query page, using the Oxigraph server "
        "(PyPI package oxigraph).",
    ),
}


class LazyGroup(DorsumGroup):
    """A click group whose LAZY_COMMANDS are imported on first use; its help lists them from
    their summaries without importing them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            module, _, name = LAZY_COMMANDS[cmd_name].target.partition(":")
            command = getattr(importlib.import_module(module), name)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, LAZY_COMMANDS[name].summary) for name in self.list_commands(ctx) if name in LAZY_COMMANDS]
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl([(name, textwrap.shorten(text, limit, placeholder="...")) for name, text in rows])


@click.group(
    cls=LazyGroup,
    epilog=f"Each command's --help lists its exit codes. {EXIT_INTERNAL} always means an internal error "
    "(a bug in dorsum), reported in one line.",
)
@click.version_option(__version__, prog_name="dorsum")
def main() -> None:
    """dorsum: triage of a lump or mass on the back or lumbar region.

    How urgent is it, what should happen next, and on whose authority? Every answer comes from
    the knowledge base (OWL 2 RL ontology, SHACL shapes, SPARQL rules) and names its sources.

    Decision support for professionals. It does not diagnose.
    """


if __name__ == "__main__":  # pragma: no cover
    main()
