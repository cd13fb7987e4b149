"""Commands of the clinic server: ``serve``, ``db``, ``clinic``, ``user``, ``import``."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from rich.console import Console
from sqlalchemy import select

from trdnav.clinic import accounts, demo, patients
from trdnav.clinic.actor import Actor
from trdnav.clinic.fhir import import_fhir_bulk, import_fhir_patient
from trdnav.errors import InputError, NotFound, Problem, TrdnavError, hide_password, printable
from trdnav.fhir.bundles import is_ndjson
from trdnav.fhir.imports import is_fhir
from trdnav.files import check_output_files, write_files
from trdnav.service import fhir_codes_for, knowledge_for, read_json_document
from trdnav.settings import Settings, load_settings
from trdnav.store import migrate
from trdnav.store.database import Store, default_database_url, unusable
from trdnav.store.tables import Clinic

__all__ = ["clinic_app", "db_app", "import_command", "serve_command", "user_app"]

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Database URL (default: setting TRDNAV_DATABASE_URL, "
        "else a SQLite file in the user's data directory).",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file.", show_default=False)
]
ClinicOption = Annotated[str, typer.Option("--clinic", help="Clinic id or exact name.")]

db_app = typer.Typer(
    help="Database schema: upgrade, downgrade, current revision, refresh.", no_args_is_help=True
)
clinic_app = typer.Typer(help="Clinics: add and list.", no_args_is_help=True)
user_app = typer.Typer(
    help="Users: add, disable, enable, reset-password, list.", no_args_is_help=True
)


def _settings(config: Path | None, database_url: str | None) -> Settings:
    return load_settings({"database_url": database_url}, config_file=config)


def _url(settings: Settings, *, create: bool = False) -> str:
    """The database URL of the settings, once a connection to it succeeded. A SQLite file
    that does not exist is refused unless ``create`` (``db upgrade``, ``serve``)."""
    return _usable(settings.database_url or default_database_url(), create=create)


def _usable(url: str, *, create: bool = False) -> str:
    """``url``, once a connection to it succeeded (else the reason, as an input error)."""
    reason = unusable(url, create=create)
    if reason is not None:
        expected = f"a database that can be opened ({reason})"
        raise InputError([Problem("--database-url", hide_password(url), expected)])
    return url


def _schema_url(settings: Settings) -> str:
    """:func:`_url`, for a database whose trdnav schema is at the latest revision (the
    commands that read or write clinics, users and patients need its tables)."""
    url = _url(settings)
    current, latest = migrate.current(url), migrate.head()
    if current != latest:
        state = (
            "it has no trdnav schema"
            if current is None
            else f"its schema is at revision {current}, not {latest}"
        )
        raise InputError(
            [
                Problem(
                    "database",
                    hide_password(url),
                    f"a database with the latest trdnav schema ({state}); run `trdnav db upgrade`",
                )
            ]
        )
    return url


def _migrate(step: Callable[[str, str], None], url: str, revision: str) -> None:
    """Run ``migrate.upgrade`` or ``migrate.downgrade``; a revision Alembic cannot reach is
    an input error naming the revisions there are."""
    try:
        step(url, revision)
    except CommandError as exc:
        script = ScriptDirectory(str(migrate.MIGRATIONS))
        known = [r.revision for r in reversed(list(script.walk_revisions()))]
        expected = (
            f"head, base, a step such as -1 or +1, or one of the revisions {', '.join(known)} "
            f"({' '.join(str(exc).split())})"
        )
        raise InputError([Problem("REVISION", revision, expected)]) from None


def _out() -> Console:
    return Console(highlight=False)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument()] = "head",
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Apply migrations up to REVISION (default: the latest); creates a SQLite database file
    that does not exist yet."""
    url = _url(_settings(config, database_url), create=True)
    _migrate(migrate.upgrade, url, revision)
    _out().print(f"database at revision {migrate.current(url)}")


@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target, e.g. base or -1.")],
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Revert migrations down to REVISION."""
    url = _url(_settings(config, database_url))
    _migrate(migrate.downgrade, url, revision)
    _out().print(f"database at revision {migrate.current(url) or 'base (empty)'}")


@db_app.command("current")
def db_current(database_url: DatabaseOption = None, config: ConfigOption = None) -> None:
    """Show the database's schema revision and the latest one."""
    url = _url(_settings(config, database_url))
    _out().print(f"current: {migrate.current(url) or 'none'}; latest: {migrate.head()}")


@db_app.command("refresh")
def db_refresh(database_url: DatabaseOption = None, config: ConfigOption = None) -> None:
    """Recompute every patient's assessment summary as of today (run daily)."""
    settings = _settings(config, database_url)
    store = Store(_schema_url(settings))
    kb = knowledge_for(settings)
    with store.reading() as session:
        clinics = list(session.execute(select(Clinic.id, Clinic.settings)))
    for clinic_id, clinic_settings in clinics:
        patients.refresh_stale_summaries(
            store,
            clinic_id,
            kb,
            settings.today(accounts.zone_of(clinic_settings)),  # the clinic's today
            adequate_trial_days=settings.adequate_trial_days,
        )
    _out().print(f"summaries refreshed for {len(clinics)} clinic(s)")


def _store(config: Path | None, database_url: str | None) -> Store:
    return Store(_schema_url(_settings(config, database_url)))


@clinic_app.command("add")
def clinic_add(name: str, database_url: DatabaseOption = None, config: ConfigOption = None) -> None:
    """Create a clinic."""
    clinic = accounts.add_clinic(_store(config, database_url), name)
    _out().print(f"clinic {clinic.id}: {clinic.name}")


@clinic_app.command("list")
def clinic_list(database_url: DatabaseOption = None, config: ConfigOption = None) -> None:
    """List clinics."""
    with _store(config, database_url).reading() as session:
        for clinic in session.scalars(select(Clinic).order_by(Clinic.id)):
            typer.echo(f"{clinic.id}\t{clinic.name}")


def _cli_actor(store: Store, clinic: str) -> Actor:
    """The command line acting for ``clinic`` (an id or name), in its time zone; a clinic
    not found, or a name several clinics have, is an error at ``--clinic``."""
    try:
        found = accounts.find_clinic(store, clinic)
    except NotFound as exc:
        raise InputError(
            [Problem("--clinic", clinic, f"a clinic of this database ({exc})")]
        ) from None
    except InputError as exc:
        raise InputError(
            [Problem("--clinic", p.value, p.expected, p.missing) for p in exc.problems]
        ) from None
    return Actor.command_line(found.id, accounts.zone_of(found.settings))


@user_app.command("add")
def user_add(
    email: str,
    clinic: ClinicOption,
    role: Annotated[str, typer.Option(help="admin, clinician or viewer")] = "clinician",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a user; prints a generated password unless one is given on standard input."""
    store = _store(config, database_url)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else accounts.generate_password()
    user = accounts.add_user(
        store, _cli_actor(store, clinic), email=email, name=name, role=role, password=password
    )
    _out().print(f"user {user.email} ({user.role}) added to clinic {user.clinic_id}")
    if not password_stdin:
        _out().print(f"password: {password}")


def _set_active(
    email: str, clinic: str, database_url: str | None, config: Path | None, active: bool
) -> None:
    store = _store(config, database_url)
    user = accounts.set_active(store, _cli_actor(store, clinic), email, active)
    _out().print(
        f"user {user.email} {'enabled' if active else 'disabled'}; existing tokens revoked"
    )


@user_app.command("disable")
def user_disable(
    email: str,
    clinic: ClinicOption,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Disable a user and revoke their tokens."""
    _set_active(email, clinic, database_url, config, False)


@user_app.command("enable")
def user_enable(
    email: str,
    clinic: ClinicOption,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Enable a disabled user."""
    _set_active(email, clinic, database_url, config, True)


@user_app.command("reset-password")
def user_reset_password(
    email: str,
    clinic: ClinicOption,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from standard input.")
    ] = False,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Give a user a new password (generated and printed, or read from standard input)."""
    store = _store(config, database_url)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else accounts.generate_password()
    accounts.set_password(store, _cli_actor(store, clinic), email, password)
    _out().print(f"password of {email} reset; existing tokens revoked")
    if not password_stdin:
        _out().print(f"password: {password}")


@user_app.command("list")
def user_list(
    clinic: ClinicOption, database_url: DatabaseOption = None, config: ConfigOption = None
) -> None:
    """List the users of a clinic."""
    store = _store(config, database_url)
    for user in accounts.list_users(store, _cli_actor(store, clinic)):
        state = "active" if user.active else "disabled"
        typer.echo(f"{user.email}\t{user.role}\t{state}")


def import_command(
    files: Annotated[
        list[str],
        typer.Argument(
            help="Patient histories: core-format JSON files, FHIR R4 Bundles (JSON, one patient "
            "each), or bulk-data NDJSON files (read together, any number of patients)."
        ),
    ],
    clinic: ClinicOption,
    clinician: Annotated[
        str | None, typer.Option(help="E-mail of the responsible clinician.")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Write what each FHIR import mapped, ignored, found ambiguous or missing "
            "(JSON) to this file.",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Store patient histories, each JSON file in one transaction (NDJSON files: one for all).

    A file that cannot be imported (invalid, or its patient exists already) stores nothing
    and the other files are still imported; every file not imported is named with why, and
    the exit code is then 2. For FHIR input, data that is missing or ambiguous is listed
    under each patient."""
    if report is not None:
        check_output_files({"--report": report})
    settings = _settings(config, database_url)
    store = Store(_schema_url(settings))
    kb = knowledge_for(settings)
    actor = _cli_actor(store, clinic)
    failed: list[Problem] = []
    not_imported: list[str] = []
    reports: list[dict[str, object]] = []
    out = _out()
    bulk = [Path(name) for name in files if is_ndjson(name)]
    for name in files:
        if is_ndjson(name):
            continue
        try:
            data = read_json_document(name, fhir_max_mb=settings.fhir_max_bundle_mb)
            if is_fhir(data):
                view, found = import_fhir_patient(
                    store,
                    actor,
                    kb,
                    fhir_codes_for(settings),
                    data,
                    settings.today(actor.timezone),
                    clinician=clinician,
                    name=name,
                    adequate_trial_days=settings.adequate_trial_days,
                )
                _imported(out, name, view["id"], found.lines())
                reports.append({"file": name, **found.to_json()})
            else:
                view = patients.import_patient(
                    store,
                    actor,
                    kb,
                    data,
                    settings.today(actor.timezone),
                    clinician=clinician,
                    adequate_trial_days=settings.adequate_trial_days,
                )
                out.print(f"imported {name} as patient {view['id']}", markup=False)
        except InputError as exc:
            not_imported.append(name)
            failed += [
                Problem(
                    p.path if p.path.startswith(name) else f"{name}: {p.path}",
                    p.value,
                    p.expected,
                    p.missing,
                )
                for p in exc.problems
            ]
        except TrdnavError as exc:  # the patient exists already, say
            not_imported.append(name)
            failed.append(_NotImported(name, None, str(exc)))
    if bulk:
        try:
            for view, found in import_fhir_bulk(
                store,
                actor,
                kb,
                fhir_codes_for(settings),
                bulk,
                settings.today(actor.timezone),
                clinician=clinician,
            ):
                _imported(out, "bulk data", view["id"], found.lines())
                reports.append({"file": [str(p) for p in bulk], **found.to_json()})
        except InputError as exc:
            not_imported += [str(p) for p in bulk]
            failed += list(exc.problems)
        except TrdnavError as exc:
            not_imported += [str(p) for p in bulk]
            failed.append(_NotImported(", ".join(str(p) for p in bulk), None, str(exc)))
    if report is not None:
        text = json.dumps(reports, indent=2, ensure_ascii=False) + "\n"
        write_files([("--report", report, lambda path: path.write_text(text, encoding="utf-8"))])
    if failed:
        summary = (
            f"{len(files) - len(not_imported)} of {len(files)} file(s) imported; "
            f"not imported (nothing of them stored): {', '.join(not_imported)}"
        )
        raise InputError([*failed, _NotImported("import", None, summary, summary=True)])


@dataclass(frozen=True, slots=True)
class _NotImported(Problem):
    """A file not imported for a reason that is no field of it (its patient exists
    already, say), or the summary of the files not imported."""

    summary: bool = False

    def __str__(self) -> str:
        if self.summary:
            return printable(f"{self.path}: {self.expected}")
        return printable(f"{self.path}: not imported: {self.expected}")


def _imported(out: Console, name: str, patient_id: str, notes: list[str]) -> None:
    out.print(f"imported {name} as patient {patient_id}", markup=False)
    for line in notes:
        out.print(f"  {line}", markup=False)


def _check_listen(host: str, port: int) -> None:
    """Refuse an address the server could not listen on (a name that does not resolve, a
    port in use) before anything is set up: the server itself would stop with exit 3."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError([Problem("--host", host, f"an address to listen on ({reason})")]) from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind(address)
        except OSError as exc:
            expected = f"a port free to listen on at {host} ({exc.strerror or exc})"
            raise InputError([Problem("--port", port, expected)]) from None


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    demo_data: Annotated[
        bool,
        typer.Option("--demo", help="Use a demo database with a demo clinic, users and patients."),
    ] = False,
    migrate_first: Annotated[
        bool,
        typer.Option("--migrate/--no-migrate", help="Upgrade the database schema before serving."),
    ] = True,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the clinic server (web app at /app; REST API, OpenAPI at /docs)."""
    import uvicorn

    settings = _settings(config, database_url)
    _check_listen(host, port)
    url = settings.database_url
    if demo_data and url is None:
        url = default_database_url().replace("trdnav.db", "trdnav-demo.db")
    # upgrading the schema first (the default) sets a new database up, as `db upgrade` does
    url = _usable(url or default_database_url(), create=migrate_first or demo_data)
    if migrate_first or demo_data:
        migrate.upgrade(url)
    elif migrate.current(url) != migrate.head():
        raise InputError(
            [
                Problem(
                    "database",
                    hide_password(url),
                    "a schema at the latest revision; run `trdnav db upgrade`",
                )
            ]
        )
    out = _out()
    if demo_data:
        login = demo.seed_demo(
            Store(url), knowledge_for(settings), settings.today(), settings=settings
        )
        out.print("[bold]trdnav demo[/bold] (not a medical device)")
        out.print(f"  sign in as {login.email} with password: {login.password}")
        out.print("  (clinician@demo.trdnav.org and viewer@demo.trdnav.org have the same password)")
    out.print(f"  database: {hide_password(url)}")
    out.print(f"  web app: http://{host}:{port}/app")
    out.print(f"  API: http://{host}:{port}/  OpenAPI docs: http://{host}:{port}/docs")
    os.environ["TRDNAV_DATABASE_URL"] = url
    if config is not None:
        os.environ["TRDNAV_CONFIG"] = str(config)
    uvicorn.run(
        "trdnav.api.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=settings.access_log,
    )
