"""Two worker processes sharing one database, with parallel writers: nothing is lost."""

from concurrent.futures import ThreadPoolExecutor

import httpx

PATIENT = {
    "patient": {"birth_date": "1980-01-01", "sex": "female"},
    "episode": {
        "onset": "2024-01-01",
        "severity": "moderate",
        "psychotic_features": False,
        "recurrent": False,
    },
}


def add_with_retry(client, path, body):
    """The client's side of optimistic locking: re-read the version after a 412."""
    attempts = 0
    while True:
        attempts += 1
        version = client.get("/patients/shared").headers["ETag"]
        response = client.post(path, json=body, headers={"If-Match": version})
        if response.status_code == 201:
            return attempts
        assert response.status_code == 412, response.text


def test_two_workers_parallel_writers_lose_no_update(start_server, account):
    server = start_server(workers=2)
    headers = {"Authorization": f"Bearer {account.token(server.url)}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        assert client.post("/patients", json={**PATIENT, "id": "shared"}).status_code == 201

        def import_many(thread):
            for i in range(6):  # a new connection each time, so both workers accept some
                r = httpx.post(
                    f"{server.url}/patients/import",
                    headers=headers,
                    timeout=60,
                    json={**PATIENT, "id": f"p-{thread}-{i}"},
                )
                assert r.status_code == 201, r.text

        def write_shared(thread):
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
                return sum(
                    add_with_retry(
                        c,
                        "/patients/shared/measurements",
                        {
                            "instrument": "PHQ-9",
                            "date": f"2024-0{thread + 1}-1{i}",
                            "items": [thread % 4] * 9,
                        },
                    )
                    for i in range(5)
                )

        workers = server.workers()
        cpu_before = {pid: server.cpu_seconds(pid) for pid in workers}
        with ThreadPoolExecutor(max_workers=8) as pool:
            imports = [pool.submit(import_many, t) for t in range(4)]
            shared = [pool.submit(write_shared, t) for t in range(4)]
            attempts = sum(f.result() for f in shared)
            for f in imports:
                f.result()
        cpu_used = {pid: server.cpu_seconds(pid) - cpu_before[pid] for pid in workers}

        listed = client.get("/patients", params={"limit": 100}).json()
        assert listed["total"] == 1 + 4 * 6
        shared_patient = client.get("/patients/shared").json()
        assert len(shared_patient["measurements"]) == 4 * 5
        assert shared_patient["version"] == 1 + 4 * 5
        assert attempts >= 20
    # both worker processes did part of the work
    assert len(workers) == 2
    assert all(seconds > 0.05 for seconds in cpu_used.values()), cpu_used
