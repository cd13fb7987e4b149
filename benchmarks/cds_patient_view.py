"""Load test of the CDS Hooks patient-view service with a typical prefetch.

    .venv/bin/python benchmarks/cds_patient_view.py --rate 100 --duration 30

The prefetch holds five years of one patient's history as an EHR would send it: about 40
medication records (8 antidepressant and augmentation orders renewed monthly), about 100
Observations (9 PHQ-9 assessments, each a panel, its 9 items and its total), 10 ECT sessions,
3 Conditions and the Patient. ``trdnav serve --workers W`` runs on SQLite with one registered
CDS client; each call carries its own ES384 JWT (signed before the run). Calls are sent open
loop at a fixed rate (latency counted from each call's scheduled time, so queueing shows), and
the server's own time per call is read from its ``Server-Timing`` header: the time the call
waited in the server before its handler started (``queue``, from the ``X-Request-Start`` time
each call carries, set as it is sent) plus the handler's time (``app``). The calls are sent
by a lean HTTP/1.1 client on uvloop (each call's bytes prepared before the run, up to 64
keep-alive connections), so that the load generator takes little of the CPUs it shares with
the server. CPU time is the server processes' user + system time over the run (from /proc),
since the machine may be shared. ``--vary`` sets what changes between calls: by default each
search Bundle comes with a new ``id`` and ``meta``, as a FHIR server answers (the same chart
opened again, which trdnav may answer from the cards it decided before, see
``cds_cache_size``); ``--vary patients`` changes the patient's data in every call, so every
call is decided anew. Each run also gives the machine's speed just before it and just after
it (``machine ms``: a fixed workload's CPU time alone / beside a busy CPU, from
``machine_speed.py``; lower is faster), since the same calls cost up to 1.7 times the CPU when
the machine's two CPUs slow each other down, and the speed can change within a run. Prints
Markdown rows for docs/performance.md, then the server's time split into the wait before the
handler and the time in it (p50, p90, p99 of each).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import uvloop
from cryptography.hazmat.primitives.asymmetric import ec
from machine_speed import speed as machine_speed

from trdnav.clinic import accounts
from trdnav.store import migrate
from trdnav.store.database import Store

TRDNAV = Path(sys.executable).parent / "trdnav"
ISS = "https://ehr.bench.example.org"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
PHQ9_ITEMS = [
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
]
DRUGS = [
    ("36437", 150),  # sertraline
    ("39786", 225),  # venlafaxine
    ("89013", 5),  # aripiprazole
    ("42347", 300),  # bupropion
    ("15996", 30),  # mirtazapine
    ("72625", 60),  # duloxetine
    ("704", 150),  # amitriptyline
    ("51272", 150),  # quetiapine
]


def typical_prefetch(today: date) -> dict[str, Any]:
    pid = "bench-patient"
    subject = {"reference": f"Patient/{pid}"}
    start = today - timedelta(days=5 * 365)

    def bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in resources],
        }

    conditions = [
        {
            "resourceType": "Condition",
            "id": f"c{i}",
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]},
            "subject": subject,
            "onsetDateTime": start.isoformat(),
        }
        for i, code in enumerate(["F33.1", "G40.909", "I10"])
    ]
    requests = []
    day = start
    for drug, dose in DRUGS:
        for renewal in range(5):
            requests.append(
                {
                    "resourceType": "MedicationRequest",
                    "id": f"mr-{drug}-{renewal}",
                    "status": "completed",
                    "intent": "order",
                    "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": drug}]},
                    "subject": subject,
                    "authoredOn": day.isoformat(),
                    "dosageInstruction": [
                        {
                            "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                            "doseAndRate": [{"doseQuantity": {"value": dose, "unit": "mg"}}],
                        }
                    ],
                    "dispenseRequest": {
                        "expectedSupplyDuration": {"value": 30, "unit": "days", "code": "d"}
                    },
                }
            )
            day += timedelta(days=30)
        day += timedelta(days=50)
    observations = []
    for n in range(9):
        when = (start + timedelta(days=200 * n)).isoformat()
        members = []
        for k, code in enumerate(PHQ9_ITEMS):
            oid = f"o{n}-{k}"
            members.append({"reference": f"Observation/{oid}"})
            observations.append(
                {
                    "resourceType": "Observation",
                    "id": oid,
                    "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": code}]},
                    "subject": subject,
                    "effectiveDateTime": when,
                    "valueInteger": (n + k) % 4 if k < 8 else 1,
                }
            )
        observations.append(
            {
                "resourceType": "Observation",
                "id": f"o{n}-total",
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": "44261-6"}]},
                "subject": subject,
                "effectiveDateTime": when,
                "valueInteger": 14,
            }
        )
        members.append({"reference": f"Observation/o{n}-total"})
        observations.append(
            {
                "resourceType": "Observation",
                "id": f"o{n}-panel",
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": "44249-1"}]},
                "subject": subject,
                "effectiveDateTime": when,
                "hasMember": members,
            }
        )
    procedures = [
        {
            "resourceType": "Procedure",
            "id": f"ect-{i}",
            "status": "completed",
            "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "90870"}]},
            "subject": subject,
            "performedDateTime": (today - timedelta(days=120 - 2 * i)).isoformat(),
        }
        for i in range(10)
    ]
    return {
        "patient": {
            "resourceType": "Patient",
            "id": pid,
            "birthDate": "1975-04-02",
            "gender": "female",
        },
        "conditions": bundle(conditions),
        "allergies": bundle([]),
        "medicationStatements": bundle([]),
        "medicationRequests": bundle(requests),
        "procedures": bundle(procedures),
        "observations": bundle(observations),
        "questionnaireResponses": bundle([]),
    }


def varied(prefetch: dict[str, Any], vary: str, n: int) -> dict[str, Any]:
    """The prefetch of call ``n``: as it is (``none``); with each search Bundle's ``id`` and
    ``meta`` new, as a FHIR server answers every search (``searches``: the same chart opened
    again); or with the patient's data changed, so that every call is another chart
    (``patients``)."""
    if vary == "none":
        return prefetch
    out = dict(prefetch)
    stamp = f"2026-01-01T00:00:{n % 60:02d}Z"
    for key, value in prefetch.items():
        if value.get("resourceType") == "Bundle":
            out[key] = {**value, "id": str(uuid.uuid4()), "meta": {"lastUpdated": stamp}}
    if vary == "patients":
        born = date(1975, 4, 2) - timedelta(days=n)
        out["patient"] = {**prefetch["patient"], "birthDate": born.isoformat()}
    return out


def bench_database(folder: Path) -> tuple[str, int]:
    """A migrated SQLite database in ``folder`` holding the benchmark's clinic: its URL and the
    clinic's id."""
    url = f"sqlite:///{folder / 'cds.db'}"
    migrate.upgrade(url)
    store = Store(url)
    clinic = accounts.add_clinic(store, "Bench Clinic")
    store.dispose()
    return url, clinic.id


def client_key() -> tuple[ec.EllipticCurvePrivateKey, dict[str, Any]]:
    """The CDS client's ES384 signing key and its JWKS (key id ``bench``)."""
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return key, {"keys": [{**jwk, "kid": "bench", "alg": "ES384", "use": "sig"}]}


def call_body(prefetch: dict[str, Any], vary: str, n: int) -> bytes:
    """The JSON body of call ``n`` (its prefetch :func:`varied`)."""
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": "bench-patient"},
        "prefetch": varied(prefetch, vary, n),
    }
    return json.dumps(body).encode()


def call_token(key: ec.EllipticCurvePrivateKey, audience: str, now: int) -> str:
    """A JWT for one call (its own ``jti``), valid for an hour from ``now``."""
    claims = {"iss": ISS, "aud": audience, "iat": now, "exp": now + 3600, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": "bench"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (from /proc)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pids += [int(c) for c in children]
    return total


class Http:
    """A lean HTTP/1.1 client for the load (keep-alive connections, requests written as
    prepared bytes), so that the load generator takes little of the CPUs the server shares:
    httpx costs about a millisecond of CPU per call."""

    def __init__(self, host: str, port: int, connections: int = 64) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(connections)

    async def exchange(self, request: tuple[bytes, bytes]) -> tuple[int, dict[str, str], bytes]:
        """Send a request (its bytes, see :func:`prepared`) and read the response: status,
        headers, body. At most ``connections`` calls are under way at once; the others wait
        for a connection. The request says when it was sent (``X-Request-Start``), so that
        the server reports how long it waited there before its handler started."""
        async with self.slots:
            return await self._exchange(request)

    async def _exchange(self, request: tuple[bytes, bytes]) -> tuple[int, dict[str, str], bytes]:
        for attempt in range(2):
            connection = self._idle() if attempt == 0 else None
            reused = connection is not None
            if connection is None:
                connection = await asyncio.open_connection(self.host, self.port)
            reader, writer = connection
            try:
                stamp = f"X-Request-Start: t={time.time():.6f}\r\n".encode("ascii")
                writer.writelines((request[0], stamp, request[1]))
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
                if reused:
                    continue  # the server closed an idle connection: send it on a new one
                raise
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name:
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if headers.get("connection", "").lower() == "close":
                writer.close()
            else:
                self.idle.append((reader, writer))
            return status, headers, body
        raise ConnectionError("no connection")

    def _idle(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A kept-alive connection the server has not closed, if there is one."""
        while self.idle:
            reader, writer = self.idle.pop()
            if not reader.at_eof():
                return reader, writer
            writer.close()
        return None

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


def prepared(host: str, port: int, path: str, body: bytes, token: str) -> tuple[bytes, bytes]:
    """The bytes of one call: request line and headers (but the last, ``X-Request-Start``,
    which :meth:`Http.exchange` adds as it sends the call), and the blank line and body."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
    )
    return head.encode("ascii"), b"\r\n" + body


def _percentiles(values: list[float]) -> list[float]:
    """The 1st to 99th percentiles of ``values`` (not a number each when there are too few)."""
    return statistics.quantiles(values, n=100) if len(values) > 1 else [float("nan")] * 99


async def run(
    requests: list[tuple[bytes, bytes]], host: str, port: int, rate: int
) -> dict[str, Any]:
    client_ms: list[float] = []
    queue_ms: list[float] = []
    handler_ms: list[float] = []
    failures: Counter[str] = Counter()
    http = Http(host, port)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5

    async def one(i: int, scheduled: float) -> None:
        try:
            status, headers, body = await asyncio.wait_for(http.exchange(requests[i]), 30)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            failures[type(exc).__name__] += 1
            return
        client_ms.append((loop.time() - scheduled) * 1000)
        timing = headers.get("server-timing", "")
        if status != 200 or len(json.loads(body)["cards"]) < 3:
            failures[f"{status}: {body[:200].decode('utf-8', 'replace')}"] += 1
            return
        # the time waited in the server before the handler (queue) and in the handler (app)
        parts = {p.split(";")[0].strip(): float(p.split("dur=")[1]) for p in timing.split(",")}
        queue_ms.append(parts.get("queue", 0.0))
        handler_ms.append(parts["app"])

    async def send_all() -> None:
        # Each call's task is made at its time: made all at once at the start, the tasks of a
        # long run (30,000 in five minutes) kept the client busy for half a second, and the
        # calls due meanwhile left late, together, queueing in the server.
        tasks = []
        for i in range(len(requests)):
            scheduled = start + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)

    began = time.perf_counter()
    await send_all()
    elapsed = time.perf_counter() - began
    http.close()
    s = _percentiles([q + h for q, h in zip(queue_ms, handler_ms, strict=True)])
    c, q, h = _percentiles(client_ms), _percentiles(queue_ms), _percentiles(handler_ms)
    for reason, count in failures.most_common():
        print(f"failed ({count}): {reason}", file=sys.stderr)
    return {
        "server_p50": s[49],
        "server_p99": s[98],
        "client_p50": c[49],
        "client_p99": c[98],
        "queue": (q[49], q[89], q[98]),
        "handler": (h[49], h[89], h[98]),
        "rps": len(client_ms) / elapsed,
        "errors": float(sum(failures.values())),
        "elapsed": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--rate", default="100", help="calls per second; several: 10,50,100 (one run each)"
    )
    parser.add_argument("--duration", type=int, default=30, help="seconds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--vary",
        choices=["none", "searches", "patients"],
        default="searches",
        help="what changes from call to call: nothing; the search Bundles' id and meta (the "
        "same chart opened again, as a FHIR server answers); the patient's data (every call "
        "another chart, nothing reused)",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="trdnav-cds-"))
    url, clinic_id = bench_database(folder)
    key, jwks = client_key()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TRDNAV_TIMEZONE": "UTC",
        "TRDNAV_CDS_CLIENTS": json.dumps({ISS: {"clinic": str(clinic_id), "jwks": jwks}}),
    }
    server = subprocess.Popen(
        [
            str(TRDNAV),
            "serve",
            "--no-migrate",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--database-url",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        prefetch = typical_prefetch(date.today())
        serial = itertools.count()
        counts = {
            k: len(v.get("entry", [])) if v.get("resourceType") == "Bundle" else 1
            for k, v in prefetch.items()
        }
        aud = f"{base}/cds-services/trdnav-patient-view"

        def calls(n: int) -> tuple[list[bytes], list[str]]:
            bodies: list[bytes] = []
            tokens: list[str] = []
            now = int(time.time())
            for _ in range(n):
                bodies.append(call_body(prefetch, args.vary, next(serial)))
                tokens.append(call_token(key, aud, now))
            return bodies, tokens

        path = "/cds-services/trdnav-patient-view"

        def requests(bodies: list[bytes], tokens: list[str]) -> list[tuple[bytes, bytes]]:
            pairs = zip(bodies, tokens, strict=True)
            return [prepared("127.0.0.1", port, path, b, t) for b, t in pairs]

        uvloop.run(run(requests(*calls(50)), "127.0.0.1", port, 20))  # warm up
        rows = []
        for rate in (int(r) for r in args.rate.split(",")):
            total = rate * args.duration
            bodies, tokens = calls(total)
            speed = machine_speed()
            time.sleep(2)
            prepared_calls = requests(bodies, tokens)
            cpu_before = cpu_seconds(server.pid)
            client_before = time.process_time()
            result = uvloop.run(run(prepared_calls, "127.0.0.1", port, rate))
            cpu = cpu_seconds(server.pid) - cpu_before
            result["client_cpu"] = time.process_time() - client_before
            load = os.getloadavg()[0]
            rows.append((rate, total, result, cpu, load, (*speed, *machine_speed())))
        print(
            f"prefetch: {sum(counts.values())} resources ({counts['medicationRequests']} "
            f"medication records, {counts['observations']} observations, "
            f"{counts['procedures']} procedures); body {len(bodies[0]) // 1024} KB; "
            f"{args.workers} workers; --vary {args.vary}"
        )
        print(
            "| rate | calls | server p50 ms | server p99 ms | client p50 ms | client p99 ms "
            "| calls/s | server CPU ms/call | errors | load average | machine ms before; after |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for rate, total, r, cpu, load, speed in rows:
            print(
                f"| {rate}/s | {total} | {r['server_p50']:.1f} | {r['server_p99']:.1f} "
                f"| {r['client_p50']:.1f} | {r['client_p99']:.1f} | {r['rps']:.0f} "
                f"| {cpu * 1000 / total:.1f} | {r['errors']:.0f} | {load:.1f} "
                f"| {speed[0]:.0f} / {speed[1]:.0f}; {speed[2]:.0f} / {speed[3]:.0f} |"
            )
        for rate, total, r, *_ in rows:
            print(f"load generator at {rate}/s: {r['client_cpu'] * 1000 / total:.2f} ms CPU/call")
            print(
                f"at {rate}/s, server ms p50 / p90 / p99: waiting before the handler "
                + " / ".join(f"{v:.1f}" for v in r["queue"])
                + "; in the handler "
                + " / ".join(f"{v:.1f}" for v in r["handler"])
            )
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
