"""Kill -9 the server in the middle of a large import: after a restart the database is
consistent and holds nothing of the import."""

import contextlib
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from trdnav.store.database import Store
from trdnav.store.tables import Measurement, Patient


def large_document(n):
    return {
        "id": "large-import",
        "patient": {"birth_date": "1970-01-01", "sex": "male"},
        "episode": {
            "onset": "1990-01-01",
            "severity": "severe",
            "psychotic_features": False,
            "recurrent": True,
        },
        "measurements": [
            {
                "instrument": "PHQ-9",
                "date": f"{1990 + i // 3650}-{(i // 300) % 12 + 1:02d}-{i % 28 + 1:02d}",
                "items": [i % 4] * 9,
            }
            for i in range(n)
        ],
    }


def writing_started(database, store):
    """Evidence that the import's transaction is writing (not only parsing)."""
    if database.startswith("sqlite"):
        wal = Path(database.removeprefix("sqlite:///") + "-wal")
        return wal.exists() and wal.stat().st_size > 2_000_000
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL "
                "AND query ILIKE 'INSERT INTO measurements%'"
            )
        ).scalar()
    return bool(rows)


def test_kill_during_a_large_import_leaves_nothing_half_written(start_server, account, database):
    store = Store(database)
    server = start_server()
    token = account.token(server.url)
    document = large_document(60_000)

    def send():
        with contextlib.suppress(httpx.TransportError):  # the server dies under it
            httpx.post(
                f"{server.url}/patients/import",
                json=document,
                timeout=300,
                headers={"Authorization": f"Bearer {token}"},
            )

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    deadline = time.monotonic() + 240
    while not writing_started(database, store):
        assert time.monotonic() < deadline, "the import never started writing"
        assert sender.is_alive(), "the import finished before it could be interrupted"
        time.sleep(0.02)
    server.kill()
    sender.join(timeout=30)

    restarted = start_server()
    headers = {"Authorization": f"Bearer {account.token(restarted.url)}"}
    assert httpx.get(f"{restarted.url}/patients/large-import", headers=headers).status_code == 404
    with store.reading() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Patient).where(Patient.id == "large-import")
            )
            == 0
        )
        assert (
            session.scalar(
                select(func.count())
                .select_from(Measurement)
                .join(Patient)
                .where(Patient.clinic_id == account.clinic_id)
            )
            == 0
        )
        if database.startswith("sqlite"):
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert session.execute(text("PRAGMA foreign_key_check")).all() == []
    small = large_document(50)
    again = httpx.post(f"{restarted.url}/patients/import", json=small, headers=headers, timeout=60)
    assert again.status_code == 201
    store.dispose()
