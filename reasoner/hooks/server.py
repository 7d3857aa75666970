"""The CDS Hooks 2.0 service ``dorsum-back-lump`` (Starlette, served by uvicorn).

* ``GET /cds-services``: discovery, one service for ``patient-view`` and one for ``order-select``
  (both with the id's hook suffix), each with its prefetch templates;
* ``POST /cds-services/{id}``: a hook call; the data come from ``prefetch`` only: the service never
  calls the EHR's FHIR server (no prefetch: HTTP 412 with a card saying so);
* ``GET /fhir/Questionnaire/dorsum-back-lump``: the Questionnaire the cards link to.

Each call's JWT is checked (:mod:`reasoner.hooks.security`), its body bounded in size and its
evaluation in time; no patient data is logged; every response carries the knowledge version and
hash in ``extension``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reasoner.errors import CaseError
from reasoner.fhir.questionnaire import DORSUM_SYSTEM, QUESTIONNAIRE_ID, QUESTIONNAIRE_URL, build_questionnaire
from reasoner.fhir.read import case_from_fhir, triage_fhir
from reasoner.hooks.cards import CardLinks, error_card, order_warnings, triage_cards
from reasoner.hooks.security import TokenChecker, TokenError
from reasoner.hooks.spec import Card, CdsResponse, Discovery, HookRequest, Service
from reasoner.knowledge import Knowledge, load_knowledge
from reasoner.pipeline.form_syntax import InputLimits, parse_json_resource
from reasoner.pipeline.policy import Profile, load_profile
from reasoner.version import __version__

SERVICE_ID = "dorsum-back-lump"
#: One service per hook (a CDS service answers one hook): its id, by hook.
SERVICES = {"patient-view": SERVICE_ID, "order-select": f"{SERVICE_ID}-order-select"}
HOOKS = tuple(SERVICES)
#: What the service needs from the EHR, as prefetch templates (FHIR search on the patient).
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "questionnaireResponses": (
        f"QuestionnaireResponse?subject={{{{context.patientId}}}}&questionnaire={QUESTIONNAIRE_URL}"
        "&_sort=-authored&_count=1"
    ),
    "observations": f"Observation?subject={{{{context.patientId}}}}&code={DORSUM_SYSTEM}|",
    "conditions": f"Condition?subject={{{{context.patientId}}}}&code={DORSUM_SYSTEM}|",
}
CASE_DATA = ("questionnaireResponses", "observations", "conditions")
FHIR_JSON = "application/fhir+json"
JSON_TYPES = ("application/json", FHIR_JSON)
log = logging.getLogger("reasoner.hooks")


@dataclass(frozen=True)
class HookSettings:
    jwks_file: Path | None = None
    issuers: tuple[str, ...] = ()
    audience: str | None = None  # the service's base URL as the EHR calls it; default: the request's
    insecure_dev: bool = False
    cors_origins: tuple[str, ...] = ()
    max_body: int = 1_000_000
    timeout: float = 10.0
    profile: str | None = None
    kb: Path | None = None


@dataclass
class _Service:
    settings: HookSettings
    knowledge: Knowledge
    profile: Profile | None
    tokens: TokenChecker
    questionnaire: dict[str, Any]
    limits: InputLimits  # of a call's JSON (nesting), as of a case file: read once, at start
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def stamp(self) -> dict[str, Any]:
        knowledge = self.knowledge
        return {
            "dorsum": {
                "knowledgeVersion": knowledge.version,
                "knowledgeVersionIri": knowledge.version_iri,
                "knowledgeHash": knowledge.content_hash,
                "dorsumVersion": __version__,
            }
        }


class _Refused(Exception):
    def __init__(self, status: int, message: str, card: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.card = card


def build_app(settings: HookSettings) -> Starlette:
    """The ASGI application (the knowledge is loaded and the engine warmed up here)."""
    knowledge = load_knowledge(settings.kb)
    service = _Service(
        settings=settings,
        knowledge=knowledge,
        profile=load_profile(knowledge, settings.profile),
        tokens=TokenChecker.from_file(settings.jwks_file, settings.issuers, settings.insecure_dev),
        questionnaire=build_questionnaire(knowledge),
        limits=InputLimits.from_environment(),
    )
    _warm_up(service)

    async def discovery(request: Request) -> Response:
        services = [
            Service(
                hook=hook,
                id=service_id,
                title="dorsum: lump on the back",
                description=(
                    "Triage of a lump or mass on the back from the knowledge graph: urgency, one plan, red flags,"
                    " sources; warns when a draft imaging order is a step the plan suppresses."
                ),
                prefetch=PREFETCH,
                usageRequirements="Record the dorsum questionnaire (or coded Observations) for the patient.",
            )
            for hook, service_id in SERVICES.items()
        ]
        body = Discovery(services=services, extension=service.stamp)
        return JSONResponse(body.model_dump(exclude_none=True))

    async def questionnaire(request: Request) -> Response:
        return JSONResponse(service.questionnaire, media_type=FHIR_JSON)

    async def call(request: Request) -> Response:
        started = time.perf_counter()
        hook = "?"
        try:
            call_request = await _read_call(request, service)
            hook = call_request.hook
            cards = await _answer(call_request, request, service)
            status = 200
            body: dict[str, Any] = CdsResponse(cards=cards, extension=service.stamp).model_dump(exclude_none=True)
        except _Refused as refused:
            status = refused.status
            body = {"error": str(refused), "extension": service.stamp}
            if refused.card:
                body["cards"] = [error_card(str(refused), service.knowledge).model_dump(exclude_none=True)]
        log.info("hook %s: HTTP %d in %.0f ms", hook, status, (time.perf_counter() - started) * 1000)
        return JSONResponse(body, status_code=status)

    routes = [
        Route("/cds-services", discovery, methods=["GET"]),
        Route("/cds-services/{service_id}", call, methods=["POST"]),
        Route(f"/fhir/Questionnaire/{QUESTIONNAIRE_ID}", questionnaire, methods=["GET"]),
    ]
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    ]

    async def not_served(request: Request, exc: Exception) -> Response:
        status = int(getattr(exc, "status_code", 404))
        return JSONResponse({"error": f"HTTP {status}", "extension": service.stamp}, status_code=status)

    return Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_served, 405: not_served})


async def _read_call(request: Request, service: _Service) -> HookRequest:
    service_id = request.path_params["service_id"]
    if service_id not in SERVICES.values():
        raise _Refused(404, f"no CDS service '{service_id}'")
    base = service.settings.audience or str(request.base_url)
    audience = f"{base.rstrip('/')}/cds-services/{service_id}"  # aud: the endpoint the EHR called
    try:
        service.tokens.check(request.headers.get("authorization"), audience)
    except TokenError as exc:
        raise _Refused(401, str(exc)) from exc
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in JSON_TYPES:
        raise _Refused(415, f"a hook call is JSON (Content-Type: application/json), not '{media_type or 'none'}'")
    body = await _bounded_body(request, service.settings.max_body)
    try:
        # read as a case file is: nesting bounded (deep nesting was an HTTP 500), no duplicate
        # keys (the last one won), no NaN
        document = parse_json_resource(body.decode("utf-8"), "request", service.limits)
        call_request = HookRequest.model_validate(document)
    except CaseError as exc:
        raise _Refused(400, f"not a CDS Hooks request: {'; '.join(exc.problems)}") from exc
    except (ValueError, ValidationError) as exc:
        raise _Refused(400, f"not a CDS Hooks request: {_first_error(exc)}") from exc
    if SERVICES.get(call_request.hook) != service_id:
        raise _Refused(400, f"service '{service_id}' does not answer the hook '{call_request.hook}'")
    return call_request


async def _bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _Refused(413, f"request body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Refused(413, f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _answer(call: HookRequest, request: Request, service: _Service) -> list[Card]:
    prefetch = call.prefetch or {}
    if not isinstance(prefetch.get("patient"), Mapping) or not any(prefetch.get(key) for key in CASE_DATA):
        missing = ", ".join(key for key in ("patient", *CASE_DATA) if not prefetch.get(key))
        raise _Refused(
            412,
            f"no prefetch data ({missing}): dorsum reads only prefetched resources and never calls the FHIR server",
            card=True,
        )
    malformed = [
        key
        for key in ("patient", *CASE_DATA)
        if prefetch.get(key) is not None and not isinstance(prefetch[key], Mapping)
    ]
    if malformed:  # a list or a URL here was once left out of the case without a word
        raise _Refused(400, f"prefetch '{malformed[0]}' is not a FHIR resource (a JSON object): nothing was read")
    patient_id = str(call.context.get("patientId", ""))
    patient = prefetch.get("patient")
    prefetched_id = patient.get("id") if isinstance(patient, Mapping) else None
    if patient_id and isinstance(prefetched_id, str) and prefetched_id != patient_id:
        raise _Refused(400, f"the prefetched Patient/{prefetched_id} is not the call's patient (Patient/{patient_id})")
    links = CardLinks(
        questionnaire=_questionnaire_url(request),
        patient_reference=f"Patient/{patient_id}" if patient_id else "",
    )
    bundle = {
        "resourceType": "Bundle",
        "id": "cds-hooks-call",
        "type": "collection",
        "entry": [
            {"resource": prefetch[key]} for key in ("patient", *CASE_DATA) if isinstance(prefetch.get(key), Mapping)
        ],
    }
    try:
        result = await asyncio.wait_for(run_in_threadpool(_evaluate, service, bundle), timeout=service.settings.timeout)
    except TimeoutError as exc:
        raise _Refused(503, f"evaluation took longer than {service.settings.timeout:g} s") from exc
    except CaseError as exc:
        raise _Refused(400, f"invalid FHIR in prefetch: {'; '.join(exc.problems)}") from exc
    cards = triage_cards(result, service.knowledge, links)
    if call.hook == "order-select":
        cards = order_warnings(result, service.knowledge, _selected_orders(call.context), links) + cards
    return cards


def _evaluate(service: _Service, bundle: dict[str, Any]) -> Any:
    with service.lock:  # one evaluation at a time: the knowledge graphs are shared
        fhir_case = case_from_fhir(bundle, service.knowledge, as_of=date.today(), source="prefetch")
        # the cards do not say what recording each missing item would change: no extra runs per item
        return triage_fhir(fhir_case, service.knowledge, service.profile, explain_missing=False)


def _selected_orders(context: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    drafts = context.get("draftOrders")
    entries = drafts.get("entry", []) if isinstance(drafts, Mapping) else []
    resources = [entry["resource"] for entry in entries if isinstance(entry, Mapping) and "resource" in entry]
    selections = context.get("selections")
    if not isinstance(selections, list) or not selections:
        return resources
    chosen = set(map(str, selections))
    return [r for r in resources if f"{r.get('resourceType')}/{r.get('id')}" in chosen]


def _questionnaire_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + f"/fhir/Questionnaire/{QUESTIONNAIRE_ID}"


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first.get('loc', ()))}: {first.get('msg', '')}"
    return " ".join(str(exc).split())


def _warm_up(service: _Service) -> None:
    """One evaluation at start, so that the first hook call does not pay for preparing the engine."""
    empty = {"resourceType": "QuestionnaireResponse", "id": "warm-up", "status": "completed"}
    case = case_from_fhir(empty, service.knowledge, source="warm-up")
    triage_fhir(case, service.knowledge, service.profile, explain_missing=False)


def run_server(settings: HookSettings, *, host: str, port: int) -> None:
    """Serve until interrupted. Logs carry no patient data (no access log, no bodies)."""
    import uvicorn

    app = build_app(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if settings.insecure_dev:
        log.warning("--insecure-dev: calls without a valid JWT are accepted; never use this with real patients")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_keep_alive=5)
