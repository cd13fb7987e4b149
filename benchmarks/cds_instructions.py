"""Instructions per CDS patient-view call, counted by Valgrind: a measure of the work a new chart
costs that does not move with the machine's speed.

    .venv/bin/python benchmarks/cds_instructions.py                 # every part
    .venv/bin/python benchmarks/cds_instructions.py --part import   # one part

This machine's CPU time per call moves by 10% and more from one minute to the next (see
``machine_speed.py``), more than most changes to the code do. The instructions a call executes
barely move. Each part runs twice under ``valgrind --tool=callgrind`` (Debian's ``valgrind``
package), serving ``--calls`` and then three times as many calls of the typical prefetch of
``cds_patient_view.py``, every call another chart. The difference of the two totals, divided
by the difference in calls, is the count per call, with the start-up and the calls' preparation
left out. The parts:

* ``app``: the whole call through the ASGI application, in process (routing, middleware, the
  route, the JSON response; not the HTTP server's parsing);
* ``call``: the whole call as the route serves it (the JWT verified, the body parsed, the data
  gathered, read and assessed, the cards made and stored with the audit record in SQLite);
* ``verify``: only the JWT's verification (its ES384 signature, claims and client);
* ``body``: only parsing the 55 KB body (with the text of its prefetch, for the kept answers);
* ``import``: gathering the prefetch's resources and reading them into the patient's history;
* ``gather``: only gathering them (a list of the resources and where each was found);
* ``read``: gathering them and reading each (:meth:`~trdnav.fhir.imports.Router.add`), but
  not making the history of what was read (``import`` less ``read`` is that);
* ``assess``: the core's assessment of that history.

Under Valgrind a call takes some 50 times as long, so a part takes a minute or two (the two
runs of a part run side by side). Prints Markdown rows for docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PARTS = ("app", "call", "verify", "body", "import", "gather", "read", "assess")
_COLLECTED = re.compile(r"Collected : (\d+)")


def _child(part: str, calls: int, prepared: int) -> None:
    """Prepare ``prepared`` calls, then do ``part`` for the first ``calls`` of them, with the
    database in a folder of its own that is removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="trdnav-instructions-"))
    try:
        _work(part, calls, prepared, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _work(part: str, calls: int, prepared: int, folder: Path) -> None:
    from cds_patient_view import (
        ISS,
        bench_database,
        call_body,
        call_token,
        client_key,
        typical_prefetch,
    )

    url, clinic_id = bench_database(folder)
    key, jwks = client_key()
    os.environ["TRDNAV_TIMEZONE"] = "UTC"
    os.environ["TRDNAV_DATABASE_URL"] = url
    os.environ["TRDNAV_CDS_CLIENTS"] = json.dumps({ISS: {"clinic": str(clinic_id), "jwks": jwks}})

    from trdnav.api.app import create_app_from_env
    from trdnav.cds.auth import verify
    from trdnav.cds.body import read_call
    from trdnav.cds.discovery import prefetch_templates
    from trdnav.cds.prefetch import gather
    from trdnav.cds.service import CallContext, parse_request, serve
    from trdnav.clinic.actor import Actor
    from trdnav.core.assessment import assess
    from trdnav.fhir.imports import Router, import_resources

    app = create_app_from_env()
    state = app.state.trdnav
    service = "trdnav-patient-view"
    audience = f"http://127.0.0.1:8000/cds-services/{service}"
    prefetch = typical_prefetch(date.today())
    now = int(time.time())
    bodies = [call_body(prefetch, "patients", n) for n in range(prepared + 1)]
    tokens = [call_token(key, audience, now) for _ in bodies]
    templates = prefetch_templates(state.codes)

    def context() -> CallContext:
        return CallContext(
            state.settings,
            state.store,
            state.kb,
            state.codes,
            state.today(),
            "http://127.0.0.1:8000/",
            state.cds_decisions,
        )

    def actor(caller: Any) -> Actor:
        return Actor(
            clinic_id=caller.clinic_id,
            role="cds",
            email=f"cds:{caller.iss}",
            remote_addr=None,
            request_id=None,
        )

    def whole(n: int) -> Callable[[], Any]:
        return lambda: serve(
            context(), state.cds_keys, tokens[n], [audience], actor, service, bodies[n]
        )

    def requests() -> list[Any]:
        return [parse_request(service, read_call(b).value) for b in bodies]

    def imported(request: Any) -> Any:
        resources = gather(request, templates, False)
        return import_resources(resources, state.kb, state.codes, state.today())

    def read(request: Any) -> Router:
        router = Router(state.codes, state.kb, state.today())
        for item in gather(request, templates, False):
            router.add(item)
        return router

    work: list[Callable[[], Any]]
    if part == "app":
        loop = asyncio.new_event_loop()
        work = [
            lambda n=n: _app_call(loop, app, audience, tokens[n], bodies[n])
            for n in range(len(bodies))
        ]
    elif part == "call":
        work = [whole(n) for n in range(len(bodies))]
    elif part == "verify":
        work = [
            lambda t=t: verify(t, [audience], state.settings, state.store, state.cds_keys)
            for t in tokens
        ]
    elif part == "body":
        work = [lambda b=b: read_call(b) for b in bodies]
    elif part == "import":
        work = [lambda r=r: imported(r) for r in requests()]
    elif part == "gather":
        work = [lambda r=r: gather(r, templates, False) for r in requests()]
    elif part == "read":
        work = [lambda r=r: read(r) for r in requests()]
    else:
        histories = [imported(r).patients[0].history for r in requests()]
        days = state.settings.adequate_trial_days
        work = [lambda h=h: assess(h, state.kb, adequate_trial_days=days) for h in histories]
    work[-1]()  # the last call, never counted, warms what is made once (caches, statements)
    for task in work[:calls]:
        task()
    state.store.dispose()


def _app_call(
    loop: asyncio.AbstractEventLoop, app: Any, audience: str, token: str, body: bytes
) -> None:
    """One call through the ASGI application, as the HTTP server hands it over."""
    url = urlsplit(audience)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": url.scheme,
        "path": url.path,
        "raw_path": url.path.encode(),
        "query_string": b"",
        "root_path": "",
        "server": (url.hostname, url.port),
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", url.netloc.encode()),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "state": {},
    }
    sent: list[dict[str, Any]] = []
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if given:  # asked again only if the response waits for a disconnect
            await asyncio.Event().wait()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    loop.run_until_complete(app(scope, receive, send))
    if sent[0].get("status") != 200:
        raise RuntimeError(f"the call was answered {sent[0].get('status')}: {sent[1:]}")


def _count(part: str, calls: int, prepared: int) -> subprocess.Popen[str]:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        part,
        str(calls),
        str(prepared),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )


def _collected(process: subprocess.Popen[str]) -> int:
    _, err = process.communicate()
    found = _COLLECTED.search(err)
    if process.returncode != 0 or found is None:
        sys.exit(f"valgrind failed ({process.returncode}):\n{err[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--calls", type=int, default=10, help="calls of the smaller run")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        part, calls, prepared = args.child
        _child(part, int(calls), int(prepared))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    few, many = args.calls, 3 * args.calls
    print("| part | instructions per call (millions) | calls counted |")
    print("|---|---|---|")
    for part in PARTS if args.part == "all" else (args.part,):
        runs = [_count(part, few, many), _count(part, many, many)]
        small, large = (_collected(run) for run in runs)
        per_call = (large - small) / (many - few)
        print(f"| {part} | {per_call / 1e6:.2f} | {many - few} |", flush=True)


if __name__ == "__main__":
    main()
