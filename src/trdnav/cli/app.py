"""Commands of the ``trdnav`` program.

Exit codes: 0 success; 2 invalid input or usage (one line per problem on stderr, nothing
on stdout); 1 an internal or knowledge-data error. Tracebacks are never shown.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import DBAPIError

from trdnav.cli import catalog, server
from trdnav.cli.cohort import cohort_app, synth_app
from trdnav.cli.courses import course_app
from trdnav.cli.measure import measure as measure_command
from trdnav.cli.options import option_date
from trdnav.cli.report import DISCLAIMER, assessment_report, import_report
from trdnav.core.history import PatientHistory
from trdnav.errors import InputError, KnowledgeError, Problem, TrdnavError
from trdnav.fhir.assessment_export import assessment_bundle
from trdnav.service import assess_input, fhir_codes_for, knowledge_for
from trdnav.settings import Settings, load_settings

__all__ = ["app", "main"]

app = typer.Typer(
    name="trdnav",
    help="Clinical decision support for treatment-resistant depression. "
    "Not a medical device: it supports clinicians and never replaces them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.add_typer(synth_app, name="synth")
app.add_typer(cohort_app, name="cohort")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file.", show_default=False)
]


def _settings(config: Path | None, **cli: Any) -> Settings:
    return load_settings(cli, config_file=config)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _console() -> Console:
    return Console(highlight=False)


@app.command()
def assess(
    file: Annotated[
        str,
        typer.Argument(
            help="Patient history: the core JSON format, a FHIR R4 Bundle or resource (JSON), "
            "or bulk-data NDJSON of one patient; - reads the core format from stdin."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the assessment as JSON.")] = False,
    as_fhir: Annotated[
        bool, typer.Option("--fhir", help="Print the history and assessment as a FHIR Bundle.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Assess as of this date (YYYY-MM-DD) instead of the file's (FHIR: today's).",
        ),
    ] = None,
    adequate_trial_days: Annotated[
        int | None,
        typer.Option(help="Minimum days of an adequate trial (default: knowledge base, 42)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Assess a patient: trials, TRD staging, scores, alerts and every treatment option.

    For FHIR input, data that is missing or ambiguous is listed right after the alerts (on
    stderr with --json or --fhir)."""
    _one_output(json=as_json, fhir=as_fhir)
    settings = _settings(config, adequate_trial_days=adequate_trial_days)
    kb = knowledge_for(settings)
    when = option_date("--as-of", as_of) if as_of else None
    found = assess_input(file, kb, settings, as_of=when)
    notes = found.fhir.report.lines() if found.fhir else []
    if as_json or as_fhir:
        for line in notes:
            sys.stderr.write(f"note: {line}\n")
    if as_fhir:
        codes = fhir_codes_for(settings)
        _print_json(assessment_bundle(found.assessment, found.history, kb, codes))
    elif as_json:
        _print_json(found.assessment.to_json())
    else:
        notes_panel = import_report(found.fhir.report) if found.fhir else None
        _console().print(assessment_report(found.assessment, notes_panel))


def _one_output(**given: bool) -> None:
    """Refuse two output formats at once (one of them was printed, the other not)."""
    chosen = [f"--{name}" for name, on in given.items() if on]
    if len(chosen) > 1:
        raise InputError([Problem(" and ".join(chosen), True, "one output format, not both")])


def _notice() -> Text:
    """The disclaimer under every printout of clinical facts and rules."""
    return Text(DISCLAIMER, style="italic")


@app.command()
def treatments(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the knowledge base as JSON.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """List the treatment options of the knowledge base (--json: the whole knowledge base)."""
    kb = knowledge_for(_settings(config))
    if as_json:
        _print_json(catalog.knowledge_json(kb))
    else:
        _console().print(catalog.treatments_table(kb, date.today()), _notice())


@app.command()
def explain(
    name: Annotated[
        str,
        typer.Argument(
            metavar="TREATMENT", help="Treatment id (or a rule, drug, instrument, condition)."
        ),
    ],
    config: ConfigOption = None,
) -> None:
    """Explain a treatment: status, schedule, efficacy, side effects, rules and sources."""
    kb = knowledge_for(_settings(config))
    _console().print(catalog.explain(name, kb, date.today()), _notice())


@app.command()
def rules(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print docs/rules.md.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rules as JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """List every rule with its statement and sources."""
    _one_output(json=as_json, markdown=markdown)
    kb = knowledge_for(_settings(config))
    if as_json:
        _print_json([r.model_dump(mode="json") for r in kb.rules.values()])
    elif markdown:
        sys.stdout.write(catalog.rules_markdown(kb))
    else:
        console = _console()
        for rule in kb.rules.values():
            console.print(f"[bold]{rule.id}[/bold]  {rule.title}  [dim]({', '.join(rule.sources)})")
        console.print(_notice())


app.command("measure")(measure_command)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the patient-history format."""
    _print_json(PatientHistory.model_json_schema())


app.add_typer(server.db_app, name="db")
app.add_typer(server.clinic_app, name="clinic")
app.add_typer(server.user_app, name="user")
app.add_typer(course_app, name="course")
app.command("import")(server.import_command)
app.command("serve")(server.serve_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``trdnav`` console script."""
    try:
        app(args=argv, prog_name="trdnav")
    except InputError as exc:
        for line in exc.lines():
            sys.stderr.write(f"error: {line}\n")
        sys.exit(exc.exit_code)
    except KnowledgeError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
    except TrdnavError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except DBAPIError as exc:
        # The database's own words only: the statement and its parameters (patient data,
        # password hashes) stay out of the terminal and its logs.
        said = str(exc.orig).strip().splitlines() if exc.orig is not None else []
        reason = said[0] if said else type(exc).__name__
        sys.stderr.write(
            f"error: the database refused the operation ({reason}); its transaction was "
            "rolled back\n"
        )
        sys.exit(1)
    except Exception as exc:
        sys.stderr.write(f"internal error ({type(exc).__name__}): {exc}\n")
        sys.exit(1)
