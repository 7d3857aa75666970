"""The CDS Hooks service, started for real (``dorsum hooks serve``) and called over HTTP with httpx.

Responses are checked against the CDS Hooks 2.0 field rules (the pydantic models of
:mod:`reasoner.hooks.spec`) and, for the suggested orders, against the FHIR R4B models."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")
jwt = pytest.importorskip("jwt")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from reasoner.fhir.questionnaire import DORSUM_SYSTEM  # noqa: E402
from reasoner.hooks.spec import SUMMARY_LIMIT, CdsResponse, Discovery  # noqa: E402
from reasoner.knowledge import DX  # noqa: E402

from .conftest import EXAMPLES, ROOT  # noqa: E402

ISSUER = "https://ehr.test"
ORIGIN = "https://ehr-ui.test"
MAX_BODY = 200_000
FHIR = EXAMPLES / "fhir"
SERVICE = "/cds-services/dorsum-back-lump"
ORDER_SERVICE = "/cds-services/dorsum-back-lump-order-select"
PATIENT_ID = "pat-7731-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, tmp: Path, *extra: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"server-{self.port}.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reasoner", "hooks", "serve", "--port", str(self.port), *extra],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text())
            try:
                httpx.get(f"{self.base}/cds-services", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("the hooks server did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("jwks")
    private = ec.generate_private_key(ec.SECP384R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    public.update({"kid": "ehr-1", "alg": "ES384", "use": "sig"})
    path = folder / "jwks.json"
    path.write_text(json.dumps({"keys": [public]}))
    return {"private": private, "other": ec.generate_private_key(ec.SECP384R1()), "jwks": path, "folder": folder}


@pytest.fixture(scope="module")
def server(keys: dict[str, Any]) -> Iterator[Server]:
    running = Server(
        keys["folder"],
        "--jwks", str(keys["jwks"]), "--issuer", ISSUER, "--cors-origin", ORIGIN, "--max-body", str(MAX_BODY),
    )  # fmt: skip
    yield running
    running.stop()


def token(server: Server, keys: dict[str, Any], path: str = SERVICE, **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": server.base + path, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    claims.update(changes)
    signer = keys.pop("_signer", None) or keys["private"]
    return str(jwt.encode(claims, signer, algorithm="ES384", headers={"kid": "ehr-1"}))


def resource(name: str) -> dict[str, Any]:
    return dict(json.loads((FHIR / f"{name}.json").read_text()))


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def prefetch_for(name: str) -> dict[str, Any]:
    """The prefetch an EHR would send for one of the example patients."""
    document = resource(name)
    patient = {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": "1963-05-14"}
    if document["resourceType"] == "Bundle":
        found = [entry["resource"] for entry in document["entry"]]
        patient = next((r for r in found if r["resourceType"] == "Patient"), patient) | {"id": PATIENT_ID}
        responses = [r for r in found if r["resourceType"] == "QuestionnaireResponse"]
        observations = [r for r in found if r["resourceType"] == "Observation"]
    else:
        responses, observations = [document], []
    about = {"reference": f"Patient/{PATIENT_ID}"}  # the example resources name their own patient
    responses = [r | {"subject": about} for r in responses]
    observations = [r | {"subject": about} for r in observations]
    return {
        "patient": patient,
        "questionnaireResponses": searchset(*responses),
        "observations": searchset(*observations),
        "conditions": None,
    }


def complete_lumbar_mass() -> dict[str, Any]:
    """The lumbar-mass example with NICE NG234's pain questions answered (absent), as Observations."""
    prefetch = prefetch_for("lumbar-mass-back-pain")
    absent = [DX.LocalisedSpinalTenderness, DX.MechanicalSpinalPain, DX.PainAggravatedByStraining]
    prefetch["observations"] = searchset(
        *(
            {
                "resourceType": "Observation",
                "id": f"obs-{n}",
                "status": "final",
                "code": {"coding": [{"system": DORSUM_SYSTEM, "code": str(finding)}]},
                "valueBoolean": False,
            }
            for n, finding in enumerate(absent)
        )
    )
    return prefetch


def call(hook: str, prefetch: dict[str, Any] | None, context: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": PATIENT_ID, **(context or {})},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def post(server: Server, keys: dict[str, Any], body: Any, path: str = SERVICE, **claims: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token(server, keys, path, **claims)}"}
    return httpx.post(server.base + path, json=body, headers=headers, timeout=60)


# --- discovery -----------------------------------------------------------------------------------


def test_discovery_lists_both_hooks_with_prefetch_and_the_knowledge_stamp(server: Server) -> None:
    response = httpx.get(f"{server.base}/cds-services", timeout=10)
    assert response.status_code == 200
    discovery = Discovery.model_validate(response.json())
    assert {(s.hook, s.id) for s in discovery.services} == {
        ("patient-view", "dorsum-back-lump"),
        ("order-select", "dorsum-back-lump-order-select"),
    }
    for service in discovery.services:
        assert service.prefetch is not None and service.prefetch["patient"] == "Patient/{{context.patientId}}"
        assert "{{context.patientId}}" in service.prefetch["questionnaireResponses"]
    assert len(response.json()["extension"]["dorsum"]["knowledgeHash"]) == 64


# --- patient-view ---------------------------------------------------------------------------------


def test_patient_view_gives_a_plan_card_with_an_imaging_order(server: Server, keys: dict[str, Any]) -> None:
    from fhir.resources.R4B.servicerequest import ServiceRequest

    response = post(server, keys, call("patient-view", complete_lumbar_mass()))
    assert response.status_code == 200, response.text
    answer = CdsResponse.model_validate(response.json())
    assert answer.extension is not None and len(answer.extension["dorsum"]["knowledgeHash"]) == 64
    (card,) = answer.cards
    assert card.indicator == "critical" and len(card.summary) <= SUMMARY_LIMIT
    assert "immediate: within 24 hours" in card.summary and "prompt medical evaluation" in card.summary
    assert card.detail is not None and "**Plan**" in card.detail and "cancer history" in card.detail
    assert "not now: urgent direct-access ultrasound" in card.detail
    assert card.source.label.startswith("Seed") and card.source.url and card.source.url.startswith(str(DX))
    assert card.suggestions and card.selectionBehavior == "at-most-one"
    request = card.suggestions[0].actions[0].resource
    assert request is not None
    order = ServiceRequest.model_validate(request)
    assert order.code.coding[0].system == DORSUM_SYSTEM
    assert order.code.coding[0].code == str(DX.MRIWholeSpineWithoutAndWithContrast)
    assert order.subject.reference == f"Patient/{PATIENT_ID}" and order.priority == "stat"


def test_an_incomplete_case_lists_what_to_record_and_links_the_questionnaire(
    server: Server, keys: dict[str, Any]
) -> None:
    response = post(server, keys, call("patient-view", prefetch_for("incomplete-lump")))
    assert response.status_code == 200, response.text
    cards = CdsResponse.model_validate(response.json()).cards
    record = cards[-1]
    assert record.summary.startswith("Back lump: record") and record.indicator == "warning"
    assert record.detail is not None and "**depth**" in record.detail and "**mobility**" in record.detail
    assert record.links is not None
    questionnaire = httpx.get(record.links[0].url, timeout=10)
    assert questionnaire.status_code == 200 and questionnaire.json()["resourceType"] == "Questionnaire"
    assert "could be" in cards[0].summary  # the plan card shows the worst case until recorded


def test_a_call_without_prefetch_gets_412_and_an_error_card_and_fetches_nothing(
    server: Server, keys: dict[str, Any]
) -> None:
    body = call("patient-view", None)
    body["fhirServer"] = "http://127.0.0.1:9/fhir"  # nothing listens there: a fetch would fail loudly
    response = post(server, keys, body)
    assert response.status_code == 412
    payload = response.json()
    assert "never calls the FHIR server" in payload["error"]
    card = CdsResponse.model_validate({"cards": payload["cards"]}).cards[0]
    assert card.summary.startswith("dorsum could not triage")
    assert "knowledgeHash" in payload["extension"]["dorsum"]


def test_invalid_fhir_in_prefetch_is_a_clear_400(server: Server, keys: dict[str, Any]) -> None:
    prefetch = prefetch_for("small-soft-lump")
    prefetch["patient"]["birthDate"] = "last spring"
    response = post(server, keys, call("patient-view", prefetch))
    assert response.status_code == 400
    assert "invalid FHIR in prefetch" in response.json()["error"] and "birthDate" in response.json()["error"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        # another patient's response in the search result: it was read into this patient's case
        (
            lambda p: p["questionnaireResponses"]["entry"][0]["resource"].update(
                subject={"reference": "Patient/other"}
            ),
            "more than one patient",
        ),
        # the prefetched Patient is not the call's: the card would be about one, the data another's
        (lambda p: p["patient"].update(id="other"), "is not the call's patient"),
        # a list (or a URL) instead of a resource: it was left out of the case without a word
        (lambda p: p.update(observations=[p["questionnaireResponses"]]), "prefetch 'observations' is not a FHIR"),
        (lambda p: p.update(conditions="Condition?subject=Patient/1"), "prefetch 'conditions' is not a FHIR"),
    ],
)
def test_prefetch_about_another_patient_or_not_a_resource_is_400(
    server: Server, keys: dict[str, Any], change: Any, error: str
) -> None:
    prefetch = prefetch_for("small-soft-lump")
    change(prefetch)
    response = post(server, keys, call("patient-view", prefetch))
    assert response.status_code == 400 and error in response.json()["error"], response.text


def test_a_body_that_is_not_a_hook_call_is_400(server: Server, keys: dict[str, Any]) -> None:
    response = post(server, keys, {"hook": "patient-view"})
    assert response.status_code == 400 and "not a CDS Hooks request" in response.json()["error"]


@pytest.mark.parametrize(
    ("text", "content_type", "status", "error"),
    [
        ("[" * 20_000 + "]" * 20_000, "application/json", 400, "nested more than"),  # was HTTP 500
        ('{"hook": "patient-view", "hook": "order-select"}', "application/json", 400, "duplicate key 'hook'"),
        ('{"hook": "patient-view", "hookInstance": "x", "context": {"n": NaN}}', "application/json", 400, "NaN"),
        ('{"hook": "patient-view"}', "text/plain", 415, "not 'text/plain'"),  # no CORS preflight
    ],
)
def test_a_body_read_strictly_is_400_or_415_in_one_json_line(
    server: Server, keys: dict[str, Any], text: str, content_type: str, status: int, error: str
) -> None:
    headers = {"Authorization": f"Bearer {token(server, keys)}", "Content-Type": content_type}
    response = httpx.post(server.base + SERVICE, content=text, headers=headers, timeout=60)
    assert response.status_code == status and error in response.json()["error"], response.text
    assert "knowledgeHash" in response.json()["extension"]["dorsum"]


# --- order-select --------------------------------------------------------------------------------


def test_order_select_warns_on_a_suppressed_imaging_order(server: Server, keys: dict[str, Any]) -> None:
    drafts = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": _draft("sr-1", DX.UrgentDirectAccessUltrasound, "urgent direct-access ultrasound")},
            {"resource": _draft("sr-2", DX.MRIWithoutContrastAlone, "MRI without contrast")},
            {"resource": _draft("sr-3", DX.MRILumbarSpineWithoutAndWithContrast, "MRI with and without contrast")},
            {"resource": _draft("sr-4", "24627-2", "Chest X-ray", system="http://loinc.org")},
            {"resource": _draft("sr-5", DX.BoneScan, "bone scan")},  # drafted, not selected
        ],
    }
    context = {
        "selections": ["ServiceRequest/sr-1", "ServiceRequest/sr-2", "ServiceRequest/sr-3", "ServiceRequest/sr-4"],
        "draftOrders": drafts,
    }
    body = call("order-select", complete_lumbar_mass(), context)
    response = post(server, keys, body, ORDER_SERVICE)
    assert response.status_code == 200, response.text
    cards = CdsResponse.model_validate(response.json()).cards
    warnings = [card for card in cards if card.summary.startswith("Reconsider")]
    assert [card.indicator for card in warnings] == ["warning", "warning"]
    assert "not now" in warnings[0].summary and "ultrasound" in warnings[0].summary
    assert "avoid" in warnings[1].summary and warnings[1].source.label.startswith("Seed 003")
    assert all("MRI with and without contrast" not in card.summary for card in warnings)
    assert all("bone scan" not in card.summary for card in cards)  # not selected: not checked
    (unchecked,) = [card for card in cards if card.summary.startswith("dorsum could not check")]
    assert unchecked.indicator == "info" and "http://loinc.org|24627-2 (Chest X-ray)" in (unchecked.detail or "")
    assert cards[-1].indicator == "critical"  # the plan card follows the warnings


def test_unknown_paths_and_methods_answer_json_with_the_knowledge_stamp(server: Server) -> None:
    for response in (
        httpx.get(f"{server.base}/nowhere", timeout=10),
        httpx.get(server.base + SERVICE, timeout=10),
        httpx.post(f"{server.base}/cds-services/other", json={}, timeout=10),
    ):
        assert response.status_code in {401, 404, 405}
        assert len(response.json()["extension"]["dorsum"]["knowledgeHash"]) == 64


def test_order_select_only_on_its_own_service(server: Server, keys: dict[str, Any]) -> None:
    response = post(server, keys, call("order-select", complete_lumbar_mass()))
    assert response.status_code == 400 and "does not answer" in response.json()["error"]


def _draft(identifier: str, action: object, text: str, system: str = DORSUM_SYSTEM) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": identifier,
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "code": {"coding": [{"system": system, "code": str(action), "display": text}]},
    }


# --- security ------------------------------------------------------------------------------------


def test_a_call_without_a_token_is_401(server: Server) -> None:
    response = httpx.post(server.base + SERVICE, json=call("patient-view", None), timeout=10)
    assert response.status_code == 401 and "bearer" in response.json()["error"].lower()


def test_a_token_signed_by_another_key_is_401(server: Server, keys: dict[str, Any]) -> None:
    keys["_signer"] = keys["other"]
    response = post(server, keys, call("patient-view", prefetch_for("small-soft-lump")))
    assert response.status_code == 401 and "signature" in response.json()["error"].lower()


def test_an_expired_token_is_401(server: Server, keys: dict[str, Any]) -> None:
    past = int(time.time()) - 3600
    response = post(server, keys, call("patient-view", prefetch_for("small-soft-lump")), exp=past, iat=past - 60)
    assert response.status_code == 401 and "expired" in response.json()["error"].lower()


@pytest.mark.parametrize(
    ("claims", "words"),
    [({"iss": "https://intruder.test"}, "issuer"), ({"aud": "https://elsewhere.test/cds-services/x"}, "audience")],
)
def test_a_token_for_another_issuer_or_audience_is_401(
    server: Server, keys: dict[str, Any], claims: dict[str, str], words: str
) -> None:
    response = post(server, keys, call("patient-view", prefetch_for("small-soft-lump")), **claims)
    assert response.status_code == 401 and words in response.json()["error"].lower()


def test_a_replayed_token_is_401(server: Server, keys: dict[str, Any]) -> None:
    bearer = {"Authorization": f"Bearer {token(server, keys)}"}
    body = call("patient-view", prefetch_for("small-soft-lump"))
    first = httpx.post(server.base + SERVICE, json=body, headers=bearer, timeout=60)
    again = httpx.post(server.base + SERVICE, json=body, headers=bearer, timeout=60)
    assert first.status_code == 200 and again.status_code == 401 and "replay" in again.json()["error"]


def test_an_oversized_body_is_413(server: Server, keys: dict[str, Any]) -> None:
    body = call("patient-view", prefetch_for("small-soft-lump"))
    body["context"]["padding"] = "x" * (MAX_BODY + 1)
    response = post(server, keys, body)
    assert response.status_code == 413


def test_cors_only_for_configured_origins(server: Server) -> None:
    allowed = httpx.get(f"{server.base}/cds-services", headers={"Origin": ORIGIN}, timeout=10)
    other = httpx.get(f"{server.base}/cds-services", headers={"Origin": "https://evil.test"}, timeout=10)
    assert allowed.headers.get("access-control-allow-origin") == ORIGIN
    assert "access-control-allow-origin" not in other.headers


def test_the_server_binds_loopback_and_logs_no_patient_data(server: Server, keys: dict[str, Any]) -> None:
    post(server, keys, call("patient-view", complete_lumbar_mass()))
    log = server.log.read_text()
    assert "hook patient-view: HTTP 200" in log
    assert PATIENT_ID not in log and "1963" not in log and "cancer" not in log
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    outside = sorted(a for a in addresses if not a.startswith("127."))
    if outside:
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://{outside[0]}:{server.port}/cds-services", timeout=2)


def test_insecure_dev_accepts_unsigned_calls(tmp_path: Path) -> None:
    running = Server(tmp_path, "--insecure-dev")
    try:
        response = httpx.post(
            running.base + SERVICE, json=call("patient-view", prefetch_for("small-soft-lump")), timeout=60
        )
        assert response.status_code == 200, response.text
        assert CdsResponse.model_validate(response.json()).cards[0].indicator in {"info", "warning"}
        assert "--insecure-dev" in running.log.read_text()
    finally:
        running.stop()


def test_a_call_over_the_time_limit_is_503(tmp_path: Path) -> None:
    running = Server(tmp_path, "--insecure-dev", "--timeout", "0.001")
    try:
        body = call("patient-view", prefetch_for("small-soft-lump"))
        response = httpx.post(running.base + SERVICE, json=body, timeout=60)
        assert response.status_code == 503 and "longer than" in response.json()["error"]
    finally:
        running.stop()


def test_serve_refuses_to_start_without_keys_or_insecure_dev() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reasoner", "hooks", "serve", "--port", str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "--jwks" in done.stderr and len(done.stderr.strip().splitlines()) == 1
