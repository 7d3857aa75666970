"""``dorsum questionnaire``, ``dorsum evaluate-fhir`` and ``dorsum hooks serve``: thin over
:mod:`reasoner.fhir` and :mod:`reasoner.hooks`."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path

import click

from reasoner.cli.common import USAGE_ERROR, DorsumCommand, DorsumGroup, exit_codes, format_option, kb_option, report
from reasoner.errors import EXIT_INCOMPLETE, EXIT_INVALID_CASE, EXIT_TRIAGED, CaseError, UsageError, worse_exit


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise UsageError(f"--as-of {value}: expected a date as YYYY-MM-DD") from exc


@click.command(cls=DorsumCommand, epilog=exit_codes((EXIT_TRIAGED, "the Questionnaire was written"), USAGE_ERROR))
@click.option("--out", "out", type=click.Path(path_type=Path), default=None, help="Write to FILE (default: stdout).")
@click.option("--profile", default=None, help="Guideline profile: its packs decide which conditional items exist.")
@kb_option
def questionnaire(out: Path | None, profile: str | None, kb: Path | None) -> None:
    """Write the FHIR R4 Questionnaire of the case form, generated from the knowledge.

    One item per form key and per finding, answers coded in the dorsum code system (the ontology
    IRIs), units for sizes and ages, `required` and help text from the completeness shapes, and
    enableWhen where a shape asks for an item only in some situation.

    \b
    Example:
      dorsum questionnaire --out questionnaire.json
    """
    from reasoner.fhir.questionnaire import build_questionnaire
    from reasoner.knowledge import load_knowledge
    from reasoner.pipeline.policy import knowledge_for, load_profile

    knowledge = load_knowledge(kb)
    knowledge = knowledge_for(knowledge, load_profile(knowledge, profile))
    text = json.dumps(build_questionnaire(knowledge), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@click.command(
    "evaluate-fhir",
    cls=DorsumCommand,
    epilog=exit_codes(
        (EXIT_TRIAGED, "triaged, case complete"),
        (EXIT_INCOMPLETE, "triaged but incomplete (the answer says what to record)"),
        USAGE_ERROR,
        (EXIT_INVALID_CASE, "not valid FHIR R4, or not a case dorsum can read"),
    )
    + "  Refused files (README, 'Safety of inputs'): 10 larger than DORSUM_MAX_CASE_BYTES, 11 nested "
    "deeper than DORSUM_MAX_CASE_DEPTH, 14 not a regular file (FIFO, device).\n",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option("text", "json", "turtle")
@click.option(
    "--as-of", "as_of", default=None, help="Evaluation date for ages from birthDate (YYYY-MM-DD; default today)."
)
@click.option("--profile", default=None, help="Guideline profile (see 'dorsum conflicts').")
@kb_option
def evaluate_fhir(files: tuple[Path, ...], fmt: str, as_of: str | None, profile: str | None, kb: Path | None) -> None:
    """Triage each FHIR R4 FILE: a QuestionnaireResponse, or a Bundle with a Patient, responses,
    Observations and Conditions coded in the dorsum code system.

    Codes that map to no question are listed in the result's notes, never dropped silently.

    \b
    Example:
      dorsum evaluate-fhir examples/fhir/lumbar-mass-back-pain.json --as-of 2026-11-30
    """
    from reasoner.fhir.read import read_fhir, triage_fhir
    from reasoner.knowledge import load_knowledge
    from reasoner.pipeline.policy import load_profile
    from reasoner.render import render

    when = _as_of(as_of)
    knowledge = load_knowledge(kb)
    chosen = load_profile(knowledge, profile)
    worst = EXIT_TRIAGED
    outputs: list[str] = []
    for path in files:
        try:
            result = triage_fhir(read_fhir(path, knowledge, when), knowledge, chosen)
        except (CaseError, UsageError) as error:  # a missing file must not cost the others
            report(error)
            worst = worse_exit(worst, error.exit_code)
            continue
        outputs.append(render(result, fmt))
        worst = worse_exit(worst, result.exit_code)
    if fmt == "json" and len(files) > 1:  # as dorsum evaluate: an array for several
        click.echo("[\n" + ",\n".join(o.rstrip("\n") for o in outputs) + "\n]")
    else:
        click.echo("\n".join(o.rstrip("\n") + "\n" for o in outputs), nl=False)
    sys.exit(worst)


@click.group(cls=DorsumGroup)
def hooks() -> None:
    """A CDS Hooks 2.0 service for electronic records (needs the extra: pip install 'dorsum[hooks]')."""


@hooks.command(epilog=exit_codes((EXIT_TRIAGED, "the server stopped"), USAGE_ERROR))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=8405, show_default=True, type=int)
@click.option(
    "--jwks",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="JWKS file with the EHR's public keys (JWT signatures are checked against it).",
)
@click.option("--issuer", "issuers", multiple=True, help="Accepted JWT issuer (iss); repeat for several.")
@click.option(
    "--audience",
    default=None,
    help="This service's base URL as the EHR calls it: a JWT's aud must be BASE/cds-services/<service id> "
    "(default: the base URL of the request).",
)
@click.option("--insecure-dev", is_flag=True, help="Accept calls without a valid JWT (development only).")
@click.option(
    "--cors-origin", "origins", multiple=True, help="Origin allowed by CORS; repeat for several (default none)."
)
@click.option("--max-body", default=1_000_000, show_default=True, type=int, help="Largest request body, in bytes.")
@click.option("--timeout", default=10.0, show_default=True, type=float, help="Time limit of one hook call, in seconds.")
@click.option("--profile", default=None, help="Guideline profile (see 'dorsum conflicts').")
@kb_option
def serve(
    host: str,
    port: int,
    jwks: Path | None,
    issuers: tuple[str, ...],
    audience: str | None,
    insecure_dev: bool,
    origins: tuple[str, ...],
    max_body: int,
    timeout: float,
    profile: str | None,
    kb: Path | None,
) -> None:
    """Serve the CDS Hooks service dorsum-back-lump (patient-view, order-select).

    \b
    Example:
      dorsum hooks serve --jwks ehr-keys.json --issuer https://ehr.example.org --audience http://127.0.0.1:8405
      dorsum hooks serve --insecure-dev
    """
    try:
        from reasoner.hooks.server import HookSettings, run_server
    except ImportError as exc:
        raise UsageError(
            f"the CDS Hooks service needs its extra: pip install 'dorsum[hooks]' ({exc.name} missing)"
        ) from exc
    settings = HookSettings(
        jwks_file=jwks,
        issuers=issuers,
        audience=audience,
        insecure_dev=insecure_dev,
        cors_origins=origins,
        max_body=max_body,
        timeout=timeout,
        profile=profile,
        kb=kb,
    )
    run_server(settings, host=host, port=port)
