"""The server's commands through the installed `trdnav` script: db, clinic, user, import,
serve."""

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, select, text

from trdnav.store import migrate
from trdnav.store.tables import AuditEvent, Patient, User

ROOT = Path(__file__).resolve().parents[2]
TRDNAV = Path(sys.executable).parent / "trdnav"


def run(*args, db=None, stdin=None):
    extra = ["--database-url", db] if db else []
    return subprocess.run(
        [str(TRDNAV), *args, *extra],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert run("db", "upgrade", db=url).returncode == 0
    return url


def test_db_upgrade_current_downgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    (tmp_path / "m.db").touch()  # an empty file is a database without the schema
    assert "current: none" in run("db", "current", db=url).stdout
    head = migrate.head()
    up = run("db", "upgrade", db=url)
    assert up.returncode == 0
    assert f"database at revision {head}" in up.stdout
    assert f"current: {head}; latest: {head}" in run("db", "current", db=url).stdout
    assert "database at revision 0001" in run("db", "downgrade", "0001", db=url).stdout
    down = run("db", "downgrade", "base", db=url)
    assert "base (empty)" in down.stdout


def test_clinics_and_users(db):
    assert run("clinic", "add", "North Clinic", db=db).stdout.startswith("clinic 1: North Clinic")
    added = run(
        "user", "add", "Dr.Who@North.test", "--clinic", "North Clinic", "--role", "admin", db=db
    )
    assert added.returncode == 0, added.stderr
    password = re.search(r"password: (\S+)", added.stdout).group(1)
    assert len(password) >= 10
    piped = run(
        "user",
        "add",
        "viewer@north.test",
        "--clinic",
        "1",
        "--role",
        "viewer",
        "--password-stdin",
        db=db,
        stdin="a long enough password\n",
    )
    assert piped.returncode == 0
    assert "password:" not in piped.stdout
    listing = run("user", "list", "--clinic", "1", db=db).stdout
    assert "dr.who@north.test\tadmin\tactive" in listing
    assert run("user", "disable", "viewer@north.test", "--clinic", "1", db=db).returncode == 0
    assert (
        "viewer@north.test\tviewer\tdisabled" in run("user", "list", "--clinic", "1", db=db).stdout
    )
    reset = run("user", "reset-password", "dr.who@north.test", "--clinic", "1", db=db)
    assert re.search(r"password: (\S+)", reset.stdout).group(1) != password
    bad_role = run("user", "add", "x@north.test", "--clinic", "1", "--role", "boss", db=db)
    assert bad_role.returncode == 2
    assert "role" in bad_role.stderr
    missing = run("user", "add", "x@north.test", "--clinic", "Nowhere", db=db)
    assert missing.returncode == 2
    assert "trdnav clinic add" in missing.stderr
    duplicate = run("user", "add", "viewer@north.test", "--clinic", "1", db=db)
    assert duplicate.returncode == 2
    assert "exists already" in duplicate.stderr


def test_import_is_all_or_nothing_per_file(db, tmp_path):
    run("clinic", "add", "Import Clinic", db=db)
    good = ROOT / "examples" / "stage-2-trd.json"
    bad = tmp_path / "bad.json"
    doc = json.loads((ROOT / "examples" / "refractory-recurrent.json").read_text())
    doc["medication_trials"][0]["daily_dose_mg"] = -40
    bad.write_text(json.dumps(doc))
    result = run("import", str(good), str(bad), "--clinic", "Import Clinic", db=db)
    assert result.returncode == 2
    assert "imported" in result.stdout
    assert f"{bad}: medication_trials[0].daily_dose_mg" in result.stderr
    assert "Traceback" not in result.stderr
    again = run("import", str(good), "--clinic", "Import Clinic", db=db)
    assert again.returncode == 2
    assert "exists already" in again.stderr


def _with_patient(tmp_path, **patient):
    doc = json.loads((ROOT / "examples" / "stage-2-trd.json").read_text())
    doc["patient"].update(patient)
    return _file(tmp_path, doc)


def _with_therapy(tmp_path, kind):
    doc = json.loads((ROOT / "examples" / "stage-2-trd.json").read_text())
    doc["psychotherapy"][0]["type"] = kind
    return _file(tmp_path, doc)


def _file(tmp_path, doc):
    path = tmp_path / "long.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def postgres_db(postgres_url):
    migrate.upgrade(postgres_url)
    engine = create_engine(postgres_url)
    yield postgres_url, engine
    engine.dispose()


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        pytest.param(
            lambda tmp: ["user", "add", "a" * 244 + "@north.test"],
            'email: got "255 characters"; expected an e-mail address of at most 254 characters',
            id="user e-mail",
        ),
        pytest.param(
            lambda tmp: ["user", "add", "new@north.test", "--name", "n" * 201],
            'name: got "201 characters"; expected a name of at most 200 characters',
            id="user name",
        ),
        pytest.param(
            lambda tmp: ["import", str(_with_patient(tmp, sex="f" * 33))],
            'long.json: patient.sex: got "33 characters"; expected a text of at most 32 characters',
            id="patient sex",
        ),
        pytest.param(
            lambda tmp: ["import", str(_with_therapy(tmp, "t" * 65))],
            'long.json: psychotherapy[0].type: got "65 characters"; expected a text of at most '
            "64 characters",
            id="psychotherapy type",
        ),
    ],
)
def test_text_longer_than_postgresql_keeps_is_refused(postgres_db, tmp_path, args, problem):
    """PostgreSQL refuses text longer than its column: that was an internal error with the
    SQL shown. Refused as input instead, naming the field, and nothing is stored."""
    url, engine = postgres_db
    clinic = f"North {time.time_ns()}"
    assert run("clinic", "add", clinic, db=url).returncode == 0

    def stored():
        with engine.connect() as connection:
            return [
                connection.scalar(select(func.count()).select_from(table))
                for table in (User, Patient, AuditEvent)
            ]

    before = stored()
    refused = run(*args(tmp_path), "--clinic", clinic, db=url)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert problem in refused.stderr
    assert "internal error" not in refused.stderr
    assert stored() == before


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(base, deadline):
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)


def test_serve_demo_prints_a_password_that_signs_in(tmp_path):
    port = _port()
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    proc = subprocess.Popen(
        [str(TRDNAV), "serve", "--demo", "--port", str(port), "--database-url", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    try:
        output = ""
        deadline = time.monotonic() + 90
        password = None
        while time.monotonic() < deadline and password is None:
            line = proc.stdout.readline()
            output += line
            found = re.search(r"password: (\S+)", line)
            password = found.group(1) if found else None
        assert password, output
        assert "not a medical device" in output
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline and f"{base}/app" not in output:
            output += proc.stdout.readline()
        assert f"web app: {base}/app" in output
        _wait_until_up(base, deadline)
        token = httpx.post(
            f"{base}/auth/login", json={"email": "admin@demo.trdnav.org", "password": password}
        ).json()
        listing = httpx.get(
            f"{base}/patients", headers={"Authorization": f"Bearer {token['access_token']}"}
        ).json()
        assert listing["total"] >= 20
        assert any(p["summary"]["open_alerts"] for p in listing["items"])
        assert httpx.get(f"{base}/app/login").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


@pytest.mark.parametrize("setting", [None, "false"])
def test_serve_logs_each_request_unless_the_access_log_is_off(tmp_path, db, setting):
    port = _port()
    log = tmp_path / "serve.log"
    env = {**os.environ}
    env.pop("TRDNAV_ACCESS_LOG", None)
    if setting is not None:
        env["TRDNAV_ACCESS_LOG"] = setting
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(TRDNAV), "serve", "--port", str(port), "--database-url", db],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        )
        try:
            _wait_until_up(f"http://127.0.0.1:{port}", time.monotonic() + 60)
            assert httpx.get(f"http://127.0.0.1:{port}/knowledge").status_code == 200
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    output = log.read_text()
    assert "Application startup complete" in output
    assert ('"GET /knowledge HTTP/1.1" 200' in output) == (setting is None)


def test_a_database_that_cannot_be_used_is_an_input_error(tmp_path):
    (tmp_path / "a-file").write_text("x")
    cases = [
        (f"sqlite:///{tmp_path / 'a-file' / 'x.db'}", "expected a database that can be opened"),
        ("postgresql+psycopg://ann:s3cret@127.0.0.1:1/x", "postgresql+psycopg://ann:***@127.0.0.1"),
        ("mysql://ann:s3cret@127.0.0.1/x", "expected a sqlite:/// or postgresql:// URL"),
    ]
    for url, message in cases:
        for args in (["db", "upgrade"], ["clinic", "list"]):
            result = run(*args, db=url)
            assert result.returncode == 2, (args, url)
            assert message in result.stderr
            assert "s3cret" not in result.stderr
            assert "Traceback" not in result.stderr
            assert "internal error" not in result.stderr


def test_serve_refuses_a_port_out_of_range():
    result = run("serve", "--port", "70000")
    assert result.returncode == 2
    assert "--port" in result.stderr


def test_serve_refuses_an_address_it_cannot_listen_on_before_setting_anything_up(tmp_path):
    """A host that does not resolve, or a port in use, stopped the server with exit 3 and
    uvicorn's message, after it had printed the address to sign in at."""
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    bad_host = run("serve", "--host", "999.1.1.1", "--port", "18765", db=url)
    assert bad_host.returncode == 2
    assert bad_host.stderr.startswith('error: --host: got "999.1.1.1"; expected an address')
    assert "web app" not in bad_host.stdout
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = run("serve", "--port", str(port), db=url)
    assert busy.returncode == 2
    assert busy.stderr.startswith(f"error: --port: got {port}; expected a port free to listen on")
    assert not (tmp_path / "serve.db").exists()  # refused before the database was set up


def test_serve_names_an_unmigrated_database_without_its_password(fresh_postgres_url):
    result = run("serve", "--no-migrate", db=fresh_postgres_url)
    password = urlsplit(fresh_postgres_url).password
    assert password
    assert result.returncode == 2
    assert 'error: database: got "postgresql+psycopg://' in result.stderr
    assert ":***@" in result.stderr
    assert "expected a schema at the latest revision" in result.stderr
    assert f":{password}@" not in result.stderr + result.stdout


def test_import_goes_on_after_a_file_that_fails_and_names_every_file(db, tmp_path):
    run("clinic", "add", "North", db=db)
    first = ROOT / "examples" / "stage-2-trd.json"
    assert run("import", str(first), "--clinic", "North", db=db).returncode == 0
    invalid = tmp_path / "invalid.json"
    doc = json.loads((ROOT / "examples" / "refractory-recurrent.json").read_text())
    doc["medication_trials"][0]["daily_dose_mg"] = -40
    invalid.write_text(json.dumps(doc))
    missing = tmp_path / "missing.json"
    deep = tmp_path / "deep.json"  # was an internal error that stopped the import there
    deep.write_text(json.dumps(doc)[:-1] + ', "note": ' + "[" * 2000 + "]" * 2000 + "}")
    later = ROOT / "examples" / "refractory-recurrent.json"
    files = [str(f) for f in (first, invalid, missing, deep, later)]
    result = run("import", *files, "--clinic", "North", db=db)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    later_id = json.loads(later.read_text())["id"]
    assert result.stdout.strip() == f"imported {later} as patient {later_id}"
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"error: {first}: not imported: patient 'example-stage-2' exists already in this clinic"
    )
    assert lines[1].startswith(f"error: {invalid}: medication_trials[0].daily_dose_mg: got -40")
    assert lines[2] == f'error: {missing}: FILE: got "{missing}"; expected an existing file'
    assert lines[3].startswith(f"error: {deep}: ")
    assert lines[3].endswith("expected JSON nested at most 64 levels")
    assert lines[-1] == (
        f"error: import: 1 of 5 file(s) imported; not imported (nothing of them stored): "
        f"{first}, {invalid}, {missing}, {deep}"
    )
    path = urlsplit(db).path.removeprefix("/")
    with sqlite3.connect(path) as connection:
        ids = sorted(row[0] for row in connection.execute("SELECT id FROM patients"))
    assert ids == sorted(["example-stage-2", later_id])


def test_a_mistyped_sqlite_path_is_refused_and_nothing_is_created(tmp_path):
    typo = tmp_path / "sub" / "typo.db"
    url = f"sqlite:///{typo}"
    for args in (
        ["clinic", "list"],
        ["clinic", "add", "North"],
        ["db", "current"],
        ["db", "downgrade", "base"],
        ["db", "refresh"],
        ["user", "list", "--clinic", "1"],
        ["import", str(ROOT / "examples" / "stage-2-trd.json"), "--clinic", "1"],
        ["serve", "--no-migrate"],
    ):
        result = run(*args, db=url)
        assert result.returncode == 2, args
        assert result.stderr.startswith('error: --database-url: got "sqlite:///'), args
        assert result.stderr.endswith(
            "; expected a database that can be opened "
            f"(there is no database file {typo}; `trdnav db upgrade` creates one)\n"
        ), args
        assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "sub").exists()
    assert run("db", "upgrade", db=url).returncode == 0  # which sets a new one up
    assert typo.is_file()


def test_a_database_without_the_schema_says_to_upgrade_it(tmp_path):
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    url = f"sqlite:///{empty}"
    for args in (
        ["clinic", "add", "North"],
        ["clinic", "list"],
        ["user", "list", "--clinic", "1"],
        ["import", str(ROOT / "examples" / "stage-2-trd.json"), "--clinic", "1"],
        ["db", "refresh"],
        ["course", "show", "p", "1", "--clinic", "1"],
    ):
        result = run(*args, db=url)
        assert result.returncode == 2, args
        assert result.stderr.startswith('error: database: got "sqlite:///'), args
        assert result.stderr.endswith(
            "; expected a database with the latest trdnav schema (it has no trdnav schema); "
            "run `trdnav db upgrade`\n"
        ), args
        assert len(result.stderr.splitlines()) == 1
    assert run("db", "upgrade", "0001", db=url).returncode == 0
    older = run("clinic", "list", db=url)
    assert older.returncode == 2
    assert "its schema is at revision 0001, not " in older.stderr
    assert "run `trdnav db upgrade`" in older.stderr


def test_an_unknown_revision_is_named_with_the_known_ones(db):
    known = ", ".join(_revisions())
    for command in ("upgrade", "downgrade"):
        result = run("db", command, "bogus", db=db)
        assert result.returncode == 2
        assert result.stderr == (
            f'error: REVISION: got "bogus"; expected head, base, a step such as -1 or +1, or one '
            f"of the revisions {known} (Can't locate revision identified by 'bogus')\n"
        )
    assert run("db", "downgrade", "-1", db=db).returncode == 0  # as the help says
    assert f"current: {_revisions()[-2]}" in run("db", "current", db=db).stdout


def _revisions() -> list[str]:
    script = ScriptDirectory(str(migrate.MIGRATIONS))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_clinics_users_and_passwords_are_refused_with_the_reason(db):
    assert run("clinic", "add", "North", db=db).returncode == 0
    for name, expected in (
        ("north", "expected a name no other clinic has (clinic 1 is 'North')"),
        ("7", "expected a clinic name that is not all digits"),
    ):
        result = run("clinic", "add", name, db=db)
        assert result.returncode == 2
        assert expected in result.stderr
    assert run("clinic", "list", db=db).stdout == "1\tNorth\n"
    stdin = "long enough 1\n"
    add = ("user", "add", "boss@north.example", "--clinic", "North", "--role", "admin")
    assert run(*add, "--password-stdin", db=db, stdin=stdin).returncode == 0
    last = run("user", "disable", "boss@north.example", "--clinic", "North", db=db)
    assert last.returncode == 2
    assert "boss@north.example is the clinic's last active administrator" in last.stderr
    spaces = run(
        "user",
        "add",
        "sp@north.example",
        "--clinic",
        "North",
        "--password-stdin",
        db=db,
        stdin=" " * 12 + "\n",
    )
    assert spaces.returncode == 2
    assert "expected at least 10 characters, not all of them spaces" in spaces.stderr
    two_ats = run("user", "add", "a@b@north.example", "--clinic", "North", db=db)
    assert two_ats.returncode == 2
    assert 'email: got "a@b@north.example"; expected an e-mail address' in two_ats.stderr
    listing = run("user", "list", "--clinic", "North", db=db).stdout
    assert listing == "boss@north.example\tadmin\tactive\n"
    # a clinic not found is named at the option it came from
    unknown = run("user", "list", "--clinic", "99", db=db)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith('error: --clinic: got "99"; expected a clinic of this')


def test_a_database_error_is_told_without_the_statement_or_its_values(fresh_postgres_url):
    """A database that refuses writes (here one set read-only, as a standby is): the command
    says what the database said, not the SQL with its values (a password hash here)."""
    url = fresh_postgres_url
    assert run("db", "upgrade", db=url).returncode == 0
    assert run("clinic", "add", "North", db=url).returncode == 0
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            name = conn.execute(text("SELECT current_database()")).scalar_one()
            conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    finally:
        engine.dispose()
    added = run(
        "user",
        "add",
        "admin@north.example",
        "--clinic",
        "North",
        "--role",
        "admin",
        "--password-stdin",
        db=url,
        stdin="a long enough password\n",
    )
    assert added.returncode == 1
    assert added.stderr == (
        "error: the database refused the operation (cannot execute INSERT in a read-only "
        "transaction); its transaction was rolled back\n"
    )
