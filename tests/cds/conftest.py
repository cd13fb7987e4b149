"""A CDS Hooks test bench over real HTTP: a FHIR server in the test process (serving a
patient's resources, checking the bearer token, paging searches, publishing a JWKS), a
trdnav server configured with two CDS clients, and real JWTs signed with generated keys.

    def test_x(cds):
        response = cds.call("trdnav-patient-view", cds.request(prefetch=cds.prefetch()))
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from trdnav.cds.discovery import prefetch_templates
from trdnav.clinic import accounts
from trdnav.clinic.actor import Actor
from trdnav.core.intake import parse_history
from trdnav.fhir.export import export_history
from trdnav.knowledge import load_knowledge
from trdnav.knowledge.fhir_codes import load_fhir_codes
from trdnav.settings import Settings

from ..api.conftest import PASSWORD, ThreadServer, database, free_port, run_server, store  # noqa: F401  (the API tests' database fixtures)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ISS = "https://ehr.example.org"
ISS_BY_URL = "https://other-ehr.example.org"
FHIR_TOKEN = "fhir-access-token-for-trdnav"
PATIENT = "p-cds"
PUBLIC_URL = "https://trdnav.example.org"
_counter = itertools.count()


def patient_resources(conditions: list[str]) -> list[dict[str, Any]]:
    """The stage-2 example patient (suicide item positive, seizure disorder) as FHIR, with
    extra conditions of the knowledge base's vocabulary."""
    kb = load_knowledge()
    doc = json.loads((EXAMPLES / "stage-2-trd.json").read_text("utf-8"))
    doc["id"] = PATIENT
    doc["conditions"] = sorted({*doc["conditions"], *conditions})
    return export_history(parse_history(doc, kb), kb, load_fhir_codes()).resources


class FhirServer:
    """Serves resources by read and by ``?patient=`` search, ``_count`` per page."""

    def __init__(self, resources: list[dict[str, Any]], jwks: dict[str, Any], page: int = 5):
        self.resources = resources
        self.page = page
        self.requests: list[tuple[str, str | None]] = []
        self.app = FastAPI()
        self.app.add_api_route("/jwks", lambda: jwks)
        self.app.add_api_route("/fhir/{kind}/{rid}", self.read)
        self.app.add_api_route("/fhir/{kind}", self.search)
        self.url = ""

    def _auth(self, request: Request) -> JSONResponse | None:
        self.requests.append((str(request.url), request.headers.get("authorization")))
        if request.headers.get("authorization") != f"Bearer {FHIR_TOKEN}":
            return JSONResponse({"resourceType": "OperationOutcome"}, status_code=401)
        return None

    def read(self, kind: str, rid: str, request: Request) -> Any:
        refused = self._auth(request)
        if refused is not None:
            return refused
        for r in self.resources:
            if r["resourceType"] == kind and r["id"] == rid:
                return r
        return JSONResponse({"resourceType": "OperationOutcome"}, status_code=404)

    def search(self, kind: str, request: Request) -> Any:
        refused = self._auth(request)
        if refused is not None:
            return refused
        patient = request.query_params.get("patient")
        found = [
            r
            for r in self.resources
            if r["resourceType"] == kind
            and r.get("subject", {}).get("reference") == f"Patient/{patient}"
        ]
        start = int(request.query_params.get("_offset", "0"))
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "entry": [
                {"resource": r, "search": {"mode": "match"}}
                for r in found[start : start + self.page]
            ],
        }
        if start + self.page < len(found):
            query = request.url.include_query_params(_offset=start + self.page)
            bundle["link"] = [{"relation": "next", "url": str(query)}]
        return bundle


def serve(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = ThreadServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@dataclass
class Keys:
    ec: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )
    rsa: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwks(self) -> dict[str, Any]:
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec.public_key()))
        rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key()))
        return {
            "keys": [
                {**ec_jwk, "kid": "ec-1", "use": "sig", "alg": "ES384"},
                {**rsa_jwk, "kid": "rsa-1", "use": "sig", "alg": "RS384"},
            ]
        }


@dataclass
class CdsBench:
    url: str
    fhir: FhirServer
    keys: Keys
    clinic_id: int
    emails: dict[str, str]
    resources: list[dict[str, Any]]
    jwks_file: Path

    def token(
        self,
        aud: str | list[str],
        *,
        iss: str = ISS,
        alg: str = "ES384",
        kid: str | None = "ec-1",
        expires_in: int = 300,
        issued_ago: int = 0,
        jti: str | None = None,
        headers: dict[str, Any] | None = None,
        key: Any = None,
    ) -> str:
        now = int(time.time()) - issued_ago
        claims = {
            "iss": iss,
            "aud": aud,
            "exp": now + expires_in,
            "iat": now,
            "jti": jti or str(uuid.uuid4()),
        }
        if key is None:
            key = self.keys.ec if alg.startswith("ES") else self.keys.rsa
        head = {"typ": "JWT", **({"kid": kid} if kid else {}), **(headers or {})}
        return jwt.encode(claims, key, algorithm=alg, headers=head)

    def service_url(self, service: str) -> str:
        return f"{self.url}/cds-services/{service}"

    def audience(self, service: str, path: str = "") -> str:
        """What a client's JWT names as its audience: the service under the public URL."""
        return f"{PUBLIC_URL}/cds-services/{service}{path}"

    def call(
        self,
        service: str,
        body: Any,
        token: str | None = None,
        path: str = "",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        url = self.service_url(service) + path
        token = token or self.token(self.audience(service, path))
        sent = {"Authorization": f"Bearer {token}", **(headers or {})}
        return httpx.post(url, json=body, headers=sent, timeout=30)

    def prefetch(self, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        """Every prefetch key filled as the client's FHIR server would answer it."""
        out: dict[str, Any] = {}
        for key, template in prefetch_templates(load_fhir_codes()).items():
            if key in skip:
                continue
            kind = template.split("?")[0].split("/")[0]
            found = [r for r in self.resources if r["resourceType"] == kind]
            if kind == "Patient":
                out[key] = found[0]
            else:
                out[key] = {
                    "resourceType": "Bundle",
                    "type": "searchset",
                    "entry": [{"resource": r} for r in found],
                }
        return out

    def request(
        self,
        hook: str = "patient-view",
        *,
        prefetch: Any = None,
        fhir: bool = False,
        **context: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "hook": hook,
            "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/example", "patientId": PATIENT, **context},
        }
        if prefetch is not None:
            body["prefetch"] = prefetch
        if fhir:
            body["fhirServer"] = f"{self.fhir.url}/fhir"
            body["fhirAuthorization"] = {
                "access_token": FHIR_TOKEN,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "user/*.read",
                "subject": "trdnav",
            }
        return body

    def client(self, role: str) -> httpx.Client:
        token = httpx.post(
            f"{self.url}/auth/login", json={"email": self.emails[role], "password": PASSWORD}
        ).json()["access_token"]
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )


@pytest.fixture(scope="module")
def cds(database, store, tmp_path_factory) -> Iterator[CdsBench]:  # noqa: F811
    keys = Keys()
    jwks = keys.jwks()
    folder = tmp_path_factory.mktemp("cds")
    (folder / "jwks.json").write_text(json.dumps(jwks), encoding="utf-8")
    resources = patient_resources(["cochlear_implant", "aneurysmal_vascular_disease"])
    fhir = FhirServer(resources, jwks)
    fhir_urls = serve(fhir.app)
    fhir.url = next(fhir_urls)
    clinic = accounts.add_clinic(store, f"CDS Clinic {next(_counter)} {time.time_ns()}")
    emails = {}
    for role in ("admin", "clinician"):
        email = f"{role}.{clinic.id}@cds.test"
        accounts.add_user(
            store,
            Actor.command_line(clinic.id),
            email=email,
            name=role,
            role=role,
            password=PASSWORD,
        )
        emails[role] = email
    settings = Settings(
        database_url=database,
        timezone="UTC",
        public_url=PUBLIC_URL,
        cds_allow_http_loopback=True,
        cds_clients={
            ISS: {"clinic": str(clinic.id), "jwks": str(folder / "jwks.json")},
            ISS_BY_URL: {"clinic": clinic.name, "jwks": f"{fhir.url}/jwks"},
        },
    )
    servers = run_server(settings, store)
    running = next(servers)
    yield CdsBench(running.url, fhir, keys, clinic.id, emails, resources, folder / "jwks.json")
    next(servers, None)
    next(fhir_urls, None)
