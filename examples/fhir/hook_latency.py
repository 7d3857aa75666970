"""Latency of the CDS Hooks service per hook call, at 1 and 20 concurrent clients.

    PYTHONPATH=. python examples/fhir/hook_latency.py [--calls 60] [--clients 1 20] [--timeout 10]

Starts ``dorsum hooks serve`` on a free loopback port with a fresh ES384 key (so every call's JWT
is verified), sends ``patient-view`` calls for the lumbar-mass example (prefetch only), and prints
the median and p99 of the call latency, as the client sees it, for each number of concurrent
clients, and how many calls did not succeed (a call queued past ``--timeout`` gets 503).
Not part of the test suite (needs the [hooks] extra and httpx).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "https://ehr.bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=60, help="calls per client count")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--timeout", type=float, default=10.0, help="the server's --timeout (seconds)")
    args = parser.parse_args()
    key = ec.generate_private_key(ec.SECP384R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())) | {"kid": "bench", "alg": "ES384"}
    with tempfile.TemporaryDirectory() as folder:
        jwks = Path(folder) / "jwks.json"
        jwks.write_text(json.dumps({"keys": [public]}))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        command = [sys.executable, "-m", "reasoner", "hooks", "serve", "--port", str(port), "--jwks", str(jwks)]
        server = subprocess.Popen(
            [*command, "--issuer", ISSUER, "--timeout", str(args.timeout)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base)
            body = _call()
            print(f"{'clients':>8} {'calls':>6} {'median ms':>10} {'p99 ms':>8} {'calls/s':>8} {'not 200':>7}")
            for clients in args.clients:
                tokens = [_token(key, base) for _ in range(args.calls)]
                started = time.perf_counter()
                with ThreadPoolExecutor(clients) as pool:
                    answers = list(pool.map(lambda t: _timed(base, body, t), tokens))
                elapsed = time.perf_counter() - started
                times = sorted(ms for ms, status in answers if status == 200)
                failed = len(answers) - len(times)
                p99 = times[max(0, int(len(times) * 0.99) - 1)] if times else float("nan")
                median = statistics.median(times) if times else float("nan")
                print(f"{clients:>8} {len(answers):>6} {median:>10.1f} {p99:>8.1f} "
                      f"{len(answers) / elapsed:>8.1f} {failed:>7}")  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=10)


def _wait(base: str) -> None:
    for _ in range(400):
        try:
            httpx.get(f"{base}/cds-services", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise SystemExit("the server did not start")


def _call() -> dict[str, Any]:
    bundle = json.loads((ROOT / "examples" / "fhir" / "lumbar-mass-back-pain.json").read_text())
    resources = [entry["resource"] for entry in bundle["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    responses = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"]
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": patient["id"]},
        "prefetch": {
            "patient": patient,
            "questionnaireResponses": {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": r} for r in responses],
            },
        },
    }


def _token(key: ec.EllipticCurvePrivateKey, base: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": f"{base}/cds-services/dorsum-back-lump", "iat": now, "exp": now + 600,
              "jti": str(uuid.uuid4())}  # fmt: skip
    return str(jwt.encode(claims, key, algorithm="ES384", headers={"kid": "bench"}))


def _timed(base: str, body: dict[str, Any], token: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = httpx.post(f"{base}/cds-services/dorsum-back-lump", json=body,
                          headers={"Authorization": f"Bearer {token}"}, timeout=120)  # fmt: skip
    return (time.perf_counter() - started) * 1000, response.status_code


if __name__ == "__main__":
    main()
