"""Load test of the clinic server: latency and throughput of the assessment and list endpoints.

    .venv/bin/python benchmarks/api_load.py --database sqlite --patients 5000
    TRDNAV_TEST_POSTGRES_URL=... .venv/bin/python benchmarks/api_load.py --database postgresql

Seeds a clinic with N patients (up to five years of history each: trials, augmentation,
ECT, psychotherapy, PHQ-9 every 2-6 weeks), starts `trdnav serve --workers W`, then
measures with wrk: closed loop at concurrency 1, 8 and 32, then at an offered rate (many
connections, each pausing an exponentially distributed time between requests, so that together
they send about --rate requests per second; latency is counted from each request's sending, so
a server that falls behind shows as a lower achieved rate). The server's CPU time per request
comes from /proc. Prints Markdown rows for docs/performance.md.

    --cache-size 0     every assessment read and decided anew (no assessment cache)
    --folder DIR       keep the seeded SQLite database in DIR and reuse it next time
    --no-access-log    the server logs no line per request (setting access_log)
    --assessment-only  measure the assessment endpoint only
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
import psycopg
from rich.progress import Progress
from sqlalchemy import func, select

from trdnav.clinic import accounts, demo, patients
from trdnav.clinic.actor import Actor
from trdnav.knowledge import load_knowledge
from trdnav.store import migrate
from trdnav.store.database import Store
from trdnav.store.tables import Episode, Patient

PASSWORD = "benchmark password"
TRDNAV = Path(sys.executable).parent / "trdnav"


def database_url(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'load.db'}"
    if kind == "postgresql":
        admin = os.environ["TRDNAV_TEST_POSTGRES_URL"]
        name = f"trdnav_load_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(
            admin.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return admin.rsplit("/", 1)[0] + "/" + name
    return kind


def seed(url: str, n: int, today: date) -> list[str]:
    """Migrate, create the clinic and its user, import n patients; ids with 5-year histories."""
    migrate.upgrade(url)
    store = Store(url)
    kb = load_knowledge()
    with store.reading() as session:
        existing = session.scalar(select(func.count()).select_from(Patient)) or 0
    if existing < n:
        clinic = accounts.add_clinic(store, "Load Clinic")
        actor = Actor.command_line(clinic.id)
        accounts.add_user(
            store, actor, email="load@bench.test", name="Load", role="clinician", password=PASSWORD
        )
        docs = demo.demo_histories(n, seed=2026, today=today, years=5)
        with Progress() as progress:
            task = progress.add_task(f"importing {n} patients", total=n)
            for doc in docs:
                patients.import_patient(store, actor, kb, doc, today)
                progress.advance(task)
    five_years = today - timedelta(days=int(4.5 * 365))
    with store.reading() as session:
        rows = session.execute(
            select(Patient.id, Episode.onset).join(Episode, Episode.patient_pk == Patient.pk)
        ).all()
    store.dispose()
    long_ids = [patient_id for patient_id, onset in rows if onset <= five_years]
    return long_ids or [patient_id for patient_id, _ in rows]


def _tree(pid: int) -> list[int]:
    """A process and its descendants (uvicorn's workers are children of the server)."""
    out = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in children:
        out += _tree(int(child))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree, from /proc (clock ticks)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(TRDNAV),
            "serve",
            "--no-migrate",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--database-url",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TRDNAV_TIMEZONE": "UTC"},
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


LUA = """
local ids = {%s}
local token = "%s"
local list = %s
local pause = %s
math.randomseed(42)
if pause > 0 then
  -- each connection waits an exponentially distributed time (mean: pause ms) before its
  -- next request, so the connections together offer requests at a steady rate
  delay = function()
    return math.floor(-math.log(1 - math.random()) * pause)
  end
end
request = function()
  local path
  if list then
    path = "/patients?limit=50&trd=true"
  else
    path = "/patients/" .. ids[math.random(#ids)] .. "/assessment"
  end
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
end
"""


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    base: str,
    token: str,
    ids: list[str],
    list_endpoint: bool,
    connections: int,
    duration: int,
    folder: Path,
    rate: int = 0,
) -> dict[str, float]:
    """Closed loop with ``connections`` connections; with ``rate``, each connection pauses
    between requests so that together they offer about ``rate`` requests per second."""
    script = folder / "load.lua"
    quoted = ", ".join(f'"{i}"' for i in ids[:2000])
    pause = connections * 1000 / rate if rate else 0
    script.write_text(LUA % (quoted, token, "true" if list_endpoint else "false", pause))
    threads = max(1, min(connections, 2))
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{duration}s",
            "--latency",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, flags=re.M))
    achieved = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "p50": _ms(latency["50"]),
        "p99": _ms(latency["99"]),
        "rps": achieved,
        "requests": float(done),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql or a URL")
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument(
        "--cache-size", type=int, help="the server's assessment_cache_size (default: its own)"
    )
    parser.add_argument("--folder", type=Path, help="keep the SQLite database here, to reuse")
    parser.add_argument(
        "--no-access-log", action="store_true", help="the server's access_log setting off"
    )
    parser.add_argument(
        "--assessment-only", action="store_true", help="skip the list endpoint's runs"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian package wrk)")
    if args.cache_size is not None:
        os.environ["TRDNAV_ASSESSMENT_CACHE_SIZE"] = str(args.cache_size)
    if args.no_access_log:
        os.environ["TRDNAV_ACCESS_LOG"] = "false"
    folder = args.folder or Path(tempfile.mkdtemp(prefix="trdnav-load-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = database_url(args.database, folder)
    today = date.today()
    started = time.perf_counter()
    ids = seed(url, args.patients, today)
    print(
        f"seeded {args.patients} patients in {time.perf_counter() - started:.0f} s; "
        f"{len(ids)} have 4.5+ years of history"
    )
    proc, base = start_server(url, args.workers)
    try:
        token = httpx.post(
            f"{base}/auth/login", json={"email": "load@bench.test", "password": PASSWORD}
        ).json()
        token = token["access_token"]
        backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        print(f"load average before: {os.getloadavg()[0]:.1f}")
        print(
            "| backend | endpoint | concurrency | p50 ms | p99 ms | requests/s | "
            "server CPU ms/request | errors |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for list_endpoint in (False,) if args.assessment_only else (False, True):
            name = "list (50, trd=true)" if list_endpoint else "assessment"
            wrk(base, token, ids, list_endpoint, 4, 3, folder)  # warm up
            for c in (1, 8, 32):
                cpu = cpu_seconds(proc.pid)
                r = wrk(base, token, ids, list_endpoint, c, args.duration, folder)
                per_request = (cpu_seconds(proc.pid) - cpu) * 1000 / max(1, r["requests"])
                print(
                    f"| {backend} | {name} | {c} | {r['p50']:.1f} | {r['p99']:.1f} | "
                    f"{r['rps']:.0f} | {per_request:.1f} | {r['errors']:.0f} |"
                )
        connections = args.rate  # each pausing about a second: about --rate requests/s
        cpu = cpu_seconds(proc.pid)
        r = wrk(base, token, ids, False, connections, args.duration, folder, args.rate)
        per_request = (cpu_seconds(proc.pid) - cpu) * 1000 / max(1, r["requests"])
        print(
            f"| {backend} | assessment, {args.rate}/s offered | {connections} | "
            f"{r['p50']:.1f} | {r['p99']:.1f} | {r['rps']:.0f} | {per_request:.1f} | "
            f"{r['errors']:.0f} |"
        )
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
