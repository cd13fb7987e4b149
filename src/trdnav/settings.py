"""The one table of trdnav settings.

Each setting has a name, a type, a default and a help text; the environment variable is
``TRDNAV_`` + the upper-cased name. Values come, lowest precedence first, from the
defaults, a TOML file (``--config`` or ``TRDNAV_CONFIG``), the environment, and the
command line. ``docs/settings.md`` is generated from this table and a test keeps it so.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from trdnav import json_text
from trdnav.core.intake import problems_from_validation_error
from trdnav.core.knowledge import KnowledgeBase
from trdnav.core.rule_params import AdequacyParams
from trdnav.errors import InputError, Problem, hide_password
from trdnav.knowledge import load_knowledge

__all__ = [
    "MAX_ADEQUATE_TRIAL_DAYS",
    "SETTINGS",
    "CdsClient",
    "SettingSpec",
    "Settings",
    "holiday_problem",
    "is_time_zone",
    "load_settings",
    "option_of",
    "settings_markdown",
    "trial_days_problem",
]


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return f"TRDNAV_{self.name.upper()}"


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "adequate_trial_days",
        None,
        "Minimum duration in days of an adequate antidepressant trial. Empty means the "
        "knowledge-base default (42 days, 6 weeks); 28 (4 weeks) is the shortest any "
        "source accepts.",
    ),
    SettingSpec(
        "era_gap_days",
        None,
        "Cohort engine: drug exposures of one ingredient merge into one treatment era when "
        "the next starts at most this many days after the latest end. Empty means the "
        "knowledge-base default (30 days, the OHDSI drug-era convention).",
    ),
    SettingSpec(
        "knowledge_dir",
        None,
        "Folder of knowledge data files to use instead of the packaged knowledge base.",
    ),
    SettingSpec(
        "database_url",
        None,
        "SQLAlchemy URL of the database. Empty means a SQLite file `trdnav.db` in the "
        "user's data directory. PostgreSQL: `postgresql+psycopg://user:password@host/db`.",
    ),
    SettingSpec(
        "secret_key",
        None,
        "Key that signs login tokens (at least 32 characters). Empty means a random key kept "
        "in the database, shared by every server process that uses it.",
    ),
    SettingSpec("token_minutes", 480, "Lifetime of a login token, in minutes."),
    SettingSpec(
        "login_max_failures",
        5,
        "Failed logins allowed per account (and 4 times as many per client address) within "
        "the login window before further attempts are refused with 429.",
    ),
    SettingSpec("login_window_minutes", 15, "Length of the login-throttling window, in minutes."),
    SettingSpec(
        "assessment_cache_size",
        4096,
        "Assessments each server process keeps, by patient version, date and settings, so "
        "that reading one again skips reading the history and deciding anew (the patient's "
        "version is checked on every request, so a changed history is always assessed "
        "afresh). 0 keeps none.",
    ),
    SettingSpec(
        "access_log",
        True,
        "`trdnav serve` logs each HTTP request (client, method, path, status) to standard "
        "error. The audit log records every read and write of patient data either way; turn "
        "this off when a reverse proxy in front keeps the access log, to save the server the "
        "work.",
    ),
    SettingSpec(
        "cds_cache_size",
        1024,
        "CDS Hooks `patient-view` answers each server process keeps, by a digest of every "
        "resource read from the prefetch, the patient, the date and the settings, so that a "
        "chart opened again with unchanged data skips reading and deciding anew. Only a call "
        "whose prefetch holds all its data (nothing fetched from the FHIR server) is kept or "
        "answered from here; every call is still authenticated, its cards stored (each with "
        "a new uuid) and the call audited. 0 keeps none.",
    ),
    SettingSpec(
        "holiday_country",
        "US",
        "Default country (ISO code) whose public holidays courses skip; a clinic's own "
        "setting overrides it.",
    ),
    SettingSpec(
        "holiday_subdivision",
        None,
        "Default state or region for public holidays (e.g. CA, ENG); a clinic's own setting "
        "overrides it.",
    ),
    SettingSpec(
        "timezone",
        None,
        "IANA time zone that decides 'today' (the default assessment date) for clinics "
        "without a `timezone` of their own (clinic settings), which decides it for its "
        "users, its CDS clients and the command line acting for it. Empty means the "
        "server's local time zone. Courses are planned in the clinic's `timezone`, else "
        "this one, else UTC: set one before planning courses.",
    ),
    SettingSpec(
        "fhir_max_bundle_mb",
        20,
        "Largest FHIR JSON document (a Bundle or resource) that `trdnav import`, `trdnav assess` "
        "and `POST /patients/import/fhir` accept, and largest CDS Hooks request, in megabytes. "
        "Bulk data: use NDJSON files, which are read a line at a time.",
    ),
    SettingSpec(
        "public_url",
        None,
        "Public base URL of the trdnav web app, such as `https://trdnav.example.org`; CDS Hooks "
        "cards link to `{public_url}/app/patients/{id}`. Empty means the base URL of the CDS "
        "request.",
    ),
    SettingSpec(
        "cds_clients",
        {},
        "CDS Hooks clients (EHRs) allowed to call the CDS service: a JSON object (in the "
        "environment) or TOML table mapping each client's JWT issuer (`iss`, at most 255 "
        "characters) to "
        '`{"clinic": "<clinic id or name>", "jwks": "<https URL, file path or inline JWKS>"}`. '
        "The client's JWTs are checked with the keys of its JWKS; its calls are audited in, and "
        "its feedback reported to, that clinic. Empty means no client may call.",
    ),
    SettingSpec(
        "cds_allow_http_loopback",
        False,
        "Let a CDS Hooks request's `fhirServer` be plain `http` when it is on this machine "
        "(127.0.0.1, ::1, localhost), for testing. Otherwise FHIR data is fetched over https "
        "only, since the request's access token is sent with it.",
    ),
)


class CdsClient(BaseModel):
    """A CDS Hooks client: the clinic it serves and where its public keys are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clinic: str = Field(min_length=1)
    jwks: str | dict[str, Any]

    @field_validator("clinic", mode="before")
    @classmethod
    def _clinic_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


ISSUER_LENGTH = 255
"""The longest CDS client issuer (the length of the columns that keep it with each call's
token id, card and feedback)."""
Issuer = Annotated[str, StringConstraints(min_length=1, max_length=ISSUER_LENGTH)]


def _json_object(value: Any) -> Any:
    """An object given as JSON text (from the environment) is parsed."""
    if isinstance(value, str):
        try:
            return json_text.loads(value) if value.strip() else {}
        except ValueError:  # not JSON, or nested too deeply
            raise ValueError("expected a JSON object") from None
    return value


SECRET_MIN_LENGTH = 32

MAX_ADEQUATE_TRIAL_DAYS = 365


def trial_days_problem(days: int, kb: KnowledgeBase) -> str | None:
    """What an ``adequate_trial_days`` setting is expected to be under ``kb`` (whose rule
    ``trial.adequate`` holds the shortest duration any source accepts), or None when it is."""
    shortest = kb.params("trial.adequate", AdequacyParams).shortest_duration_days
    if shortest <= days <= MAX_ADEQUATE_TRIAL_DAYS:
        return None
    return (
        f"a number of days from {shortest} ({shortest // 7} weeks, the shortest any "
        f"source accepts; see docs/settings.md and docs/rules.md) to {MAX_ADEQUATE_TRIAL_DAYS}"
    )


def is_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows (Europe/London). A name is
    looked up as a file: one too long for a file name is no zone either."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def holiday_problem(country: str | None, subdivision: str | None) -> tuple[str, str] | None:
    """What is wrong with a holiday country and subdivision, as the ``holidays`` library
    reads them: ``(field, expected)``, or None when its calendar can be had."""
    import holidays  # only when a calendar is chosen: the library is slow to list

    if not country:
        return None
    supported = holidays.list_supported_countries(include_aliases=True)
    if country not in supported:
        return (
            "holiday_country",
            "an ISO country code supported by the holidays library, e.g. US, GB, DE",
        )
    if subdivision:
        try:
            holidays.country_holidays(country, subdiv=subdivision)
        except NotImplementedError:
            known = supported[country]
            listed = ", ".join(known[:30]) + (", ..." if len(known) > 30 else "")
            return (
                "holiday_subdivision",
                f"a subdivision of {country}: {listed}"
                if known
                else f"no subdivision ({country} has none in the holidays library)",
            )
    return None


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    adequate_trial_days: int | None = None
    era_gap_days: int | None = Field(default=None, ge=0, le=365)
    knowledge_dir: Path | None = None
    database_url: str | None = None
    secret_key: SecretStr | None = Field(default=None, min_length=SECRET_MIN_LENGTH)
    token_minutes: int = Field(default=480, ge=1, le=60 * 24 * 30)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    assessment_cache_size: int = Field(default=4096, ge=0, le=1_000_000)
    access_log: bool = True
    cds_cache_size: int = Field(default=1024, ge=0, le=1_000_000)
    holiday_country: str | None = "US"
    holiday_subdivision: str | None = None
    timezone: str | None = None
    fhir_max_bundle_mb: int = Field(default=20, ge=1, le=1024)
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s?#]+$")
    cds_clients: Annotated[dict[Issuer, CdsClient], BeforeValidator(_json_object)] = Field(
        default_factory=dict
    )
    cds_allow_http_loopback: bool = False
    _options: frozenset[str] = PrivateAttr(default_factory=frozenset)
    """The settings whose values came from command-line options (see :func:`load_settings`)."""

    def path_of(self, name: str) -> str:
        """Where an error about setting ``name`` points: the command-line option its value
        came from (``--era-gap-days``), else the setting (``settings.era_gap_days``), which is
        also its environment variable and its key in a settings file."""
        return option_of(name) if name in self._options else f"settings.{name}"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("expected a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("adequate_trial_days")
    @classmethod
    def _trial_days(cls, value: int | None) -> int | None:
        # against the packaged knowledge base; knowledge_for checks another one given
        found = None if value is None else trial_days_problem(value, load_knowledge())
        if found is not None:
            raise ValueError(f"expected {found}")
        return value

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value and value != "US":  # the default needs no check
            found = holiday_problem(value, None)
            if found is not None:
                raise ValueError(f"expected {found[1]}")
        return value or None

    @field_validator("holiday_subdivision")
    @classmethod
    def _known_subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("holiday_country")
        if value and country:  # (no country: no holidays, so no subdivision is read)
            found = holiday_problem(country, value)
            if found is not None:
                raise ValueError(f"expected {found[1]}")
        return value or None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value and not is_time_zone(value):
            raise ValueError("expected an IANA time zone such as Europe/London")
        return value

    def today(self, zone: str | None = None) -> date:
        """The current date in ``zone`` (a clinic's own time zone), else in the server's
        time zone setting, else the machine's: the default assessment date."""
        zone = zone or self.timezone
        return datetime.now(ZoneInfo(zone)).date() if zone else date.today()


def _from_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise InputError([Problem("--config", str(path), "an existing TOML file")]) from None
    except OSError as exc:  # a folder, a file it may not read
        reason = exc.strerror or type(exc).__name__
        raise InputError([Problem("--config", str(path), f"a TOML file ({reason})")]) from None
    except UnicodeDecodeError:
        raise InputError([Problem("--config", str(path), "a TOML file in UTF-8")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError([Problem(str(path), str(exc), "valid TOML")]) from None
    if "trdnav" not in data:
        return data
    # With a [trdnav] table, the settings are there: a setting beside it would be ignored
    # unseen (and a clinical setting, such as adequate_trial_days, change the results).
    section = data["trdnav"]
    problems = [
        Problem(f"{path}: {key}", value, "a setting inside the [trdnav] table (the file has one)")
        for key, value in data.items()
        if key != "trdnav"
    ]
    if not isinstance(section, Mapping):
        problems.insert(0, Problem(f"{path}: trdnav", section, "a table of settings ([trdnav])"))
    if problems:
        raise InputError(problems)
    return dict(section)


def option_of(name: str) -> str:
    """The command-line option that gives setting ``name``: ``--era-gap-days``."""
    return "--" + name.replace("_", "-")


def load_settings(
    cli: Mapping[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from defaults < file < environment < command line. ``cli`` holds the values
    of command-line options by setting name (None: the option was not given), each option
    named as :func:`option_of` names it: an error about such a value names the option
    (``--era-gap-days``), an error about any other value the setting
    (``settings.era_gap_days``)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    file = config_file or (Path(env["TRDNAV_CONFIG"]) if env.get("TRDNAV_CONFIG") else None)
    if file is not None:
        values.update(_from_file(file))
    for spec in SETTINGS:
        raw = env.get(spec.env)
        if raw not in (None, ""):
            values[spec.name] = raw
    given = {k: v for k, v in (cli or {}).items() if v is not None}
    values.update(given)
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        problems = problems_from_validation_error(exc, ("settings",))
        raise InputError([_named(_shown(problem), given) for problem in problems]) from None
    settings._options = frozenset(given)
    return settings


def _named(problem: Problem, options: Mapping[str, Any]) -> Problem:
    """``problem`` at the command-line option its value came from, when it did."""
    for name in options:
        setting = f"settings.{name}"
        if problem.path == setting or problem.path.startswith((f"{setting}.", f"{setting}[")):
            path = option_of(name) + problem.path.removeprefix(setting)
            return dataclasses.replace(problem, path=path)
    return problem


def _shown(problem: Problem) -> Problem:
    """``problem`` as an error may show it: no secret key, no password of a database."""
    if problem.path == "settings.secret_key":
        expected = f"a secret of at least {SECRET_MIN_LENGTH} characters"
        return dataclasses.replace(problem, value="***", expected=expected)
    if problem.path == "settings.database_url" and isinstance(problem.value, str):
        return dataclasses.replace(problem, value=hide_password(problem.value))
    return problem


def settings_markdown() -> str:
    lines = [
        "# Settings",
        "",
        "Precedence, lowest first: default, TOML file (`--config` or `TRDNAV_CONFIG`, keys at",
        "the top level, or all of them under `[trdnav]`), environment variable, command-line",
        "option.",
        "An error names a value given as a command-line option by the option (`--era-gap-days`),",
        "any other by the setting (`settings.era_gap_days`).",
        "",
        "| setting | environment variable | default | meaning |",
        "|---|---|---|---|",
    ]
    for spec in SETTINGS:
        default = "" if spec.default is None else f"`{spec.default}`"
        lines.append(f"| `{spec.name}` | `{spec.env}` | {default} | {spec.help} |")
    return "\n".join(lines) + "\n"
