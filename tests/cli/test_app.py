"""The command line, run through its installed entry point (`trdnav`) in a subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRDNAV = Path(sys.executable).parent / "trdnav"
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


def cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    return subprocess.run(
        [str(TRDNAV), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "120", **(env or {})},
        cwd=ROOT,
        check=False,
    )


@pytest.fixture
def doc_file(tmp_path, history, trial):
    def write(**changes):
        path = tmp_path / "patient.json"
        path.write_text(json.dumps(history(**changes)), encoding="utf-8")
        return path

    return write


def test_assess_json_has_exactly_the_contract_shape(doc_file, trial):
    path = doc_file(
        medication_trials=[
            trial("sertraline", 100, "2024-02-01", "2024-05-01"),
            trial("venlafaxine", 150, "2024-05-02", "2024-08-01"),
        ],
        measurements=[{"instrument": "PHQ-9", "date": "2024-05-01", "items": [2] * 8 + [1]}],
    )
    result = cli("assess", str(path), "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert list(out) == [
        "id",
        "as_of",
        "trd",
        "failed_adequate_trials",
        "trials",
        "staging",
        "scores",
        "outcome",
        "alerts",
        "options",
    ]
    assert list(out["trials"][0]) == ["drug", "start", "in_episode", "adequate", "failed", "why"]
    assert list(out["staging"]) == ["thase_rush", "mgh_s", "msm"]
    assert list(out["staging"]["msm"]) == ["total", "band"]
    assert list(out["scores"][0]) == ["instrument", "date", "total", "severity"]
    assert out["outcome"] == {"PHQ-9": {"response": None, "remission": False}}
    assert list(out["alerts"][0]) == ["code", "message", "source"]
    assert out["alerts"][0]["code"] == "suicidal_ideation"
    for option in out["options"]:
        assert list(option)[:6] == [
            "treatment",
            "verdict",
            "regulatory_status",
            "reasons",
            "sources",
            "rule_ids",
        ]
    esk = next(o for o in out["options"] if o["treatment"] == "esketamine")
    assert esk["with_oral_antidepressant"] == "optional"
    assert out["trd"] is True
    assert out["failed_adequate_trials"] == 2


def test_assess_report_puts_alerts_first_and_says_it_is_not_a_medical_device(doc_file):
    path = doc_file(
        measurements=[{"instrument": "PHQ-9", "date": "2024-05-01", "items": [0] * 8 + [1]}]
    )
    result = cli("assess", str(path))
    assert result.returncode == 0, result.stderr
    assert "not a medical device" in result.stdout
    assert result.stdout.index("ALERTS") < result.stdout.index("Where the patient stands")
    assert result.stdout.index("suicidal_ideation") < result.stdout.index("Treatment options")


def test_invalid_input_exits_2_with_one_line_per_problem_and_nothing_on_stdout(doc_file, trial):
    path = doc_file(
        medication_trials=[trial("sertralin", 100, "2024-03-01", "2024-02-01")],
        measurements=[{"instrument": "PHQ-9", "date": "2024-05-01", "items": [0] * 8 + [7]}],
    )
    result = cli("assess", str(path), "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3
    assert any(
        line.startswith("error: medication_trials[0].drug:") and "sertraline" in line
        for line in lines
    )
    assert any("medication_trials[0].end" in line for line in lines)
    assert any(
        "measurements[0].items[8]: got 7; expected an integer from 0 to 3" in line for line in lines
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "expected an existing file"),
        ("{not json", "expected valid JSON"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_unreadable_documents(tmp_path, content, message):
    path = tmp_path / "p.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = cli("assess", str(path))
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_assess_reads_stdin_and_overrides_as_of(history, trial):
    doc = history(
        medication_trials=[
            trial("sertraline", 100, "2024-02-01", "2024-05-01"),
            trial("venlafaxine", 150, "2024-05-02", "2024-08-01"),
        ]
    )
    early = json.loads(
        cli("assess", "-", "--json", "--as-of", "2025-01-20", stdin=json.dumps(doc)).stdout
    )
    late = json.loads(
        cli("assess", "-", "--json", "--as-of", "2025-01-21", stdin=json.dumps(doc)).stdout
    )
    oral = {o["treatment"]: o.get("with_oral_antidepressant") for o in early["options"]}
    assert oral["esketamine"] == "required"
    oral = {o["treatment"]: o.get("with_oral_antidepressant") for o in late["options"]}
    assert oral["esketamine"] == "optional"
    bad = cli("assess", "-", "--as-of", "yesterday", stdin=json.dumps(doc))
    assert bad.returncode == 2
    assert "--as-of" in bad.stderr


def test_adequate_trial_duration_setting_from_option_environment_and_file(
    tmp_path, doc_file, trial
):
    path = doc_file(medication_trials=[trial("sertraline", 100, "2024-02-01", "2024-03-01")])

    def adequate(*extra, env=None):
        out = cli("assess", str(path), "--json", *extra, env=env)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)["trials"][0]["adequate"]

    assert adequate() is False
    assert adequate("--adequate-trial-days", "28") is True
    assert adequate(env={"TRDNAV_ADEQUATE_TRIAL_DAYS": "28"}) is True
    config = tmp_path / "trdnav.toml"
    config.write_text("[trdnav]\nadequate_trial_days = 28\n", encoding="utf-8")
    assert adequate("--config", str(config)) is True
    assert adequate("--config", str(config), "--adequate-trial-days", "42") is False
    bad = cli("assess", str(path), env={"TRDNAV_ADEQUATE_TRIAL_DAYS": "many"})
    assert bad.returncode == 2
    assert "settings.adequate_trial_days" in bad.stderr


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_examples_assess(example):
    result = cli("assess", str(example), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"]


def test_treatments(tmp_path):
    result = cli("treatments")
    assert result.returncode == 0
    for treatment in (
        "psychotherapy",
        "medication_change",
        "tms",
        "ect",
        "esketamine",
        "ketamine",
        "vns",
        "dbs",
        "psilocybin",
        "botox",
        "celecoxib",
    ):
        assert treatment in result.stdout
    data = json.loads(cli("treatments", "--json").stdout)
    assert [t["id"] for t in data["treatments"]][:3] == [
        "psychotherapy",
        "medication_change",
        "tms",
    ]
    assert {"drugs", "instruments", "conditions", "rules", "sources"} <= set(data)
    # at the width of a pipe (80 columns), every schedule is shown, not cut to "…"
    narrow = cli("treatments", env={"COLUMNS": "80"}).stdout
    assert "…" not in narrow
    words = " ".join(line.strip("│ ") for line in narrow.splitlines())
    for t in data["treatments"]:
        assert t["schedule"]["summary"].split()[0] in words


@pytest.mark.parametrize(
    ("name", "phrases"),
    [
        ("tms", ["Contraindications", "Cochlear implant", "Side effects", "iTBS", "Sources"]),
        ("esketamine", ["2025-01-21", "monotherapy", "Dissociation"]),
        ("vns", ["Hoarseness", "vagotomy"]),
        ("option.esketamine.oral_antidepressant", ["monotherapy_event", "Used by", "esketamine"]),
        ("Zoloft", ["sertraline", "50 mg/day"]),
        ("qids", ["QIDS-SR16", "very_severe"]),
        ("epilepsy", ["seizure_disorder", "caution for tms"]),
    ],
)
def test_explain(name, phrases):
    result = cli("explain", name)
    assert result.returncode == 0, result.stderr
    for phrase in phrases:
        assert phrase in result.stdout, phrase


@pytest.mark.parametrize("command", [("treatments",), ("explain", "esketamine"), ("rules",)])
def test_printouts_of_clinical_facts_say_it_is_not_a_medical_device(command):
    result = cli(*command)
    assert result.returncode == 0, result.stderr
    assert "not a medical device" in " ".join(result.stdout.split())


def test_explain_unknown_name_suggests():
    result = cli("explain", "tmss")
    assert result.returncode == 2
    assert "did you mean tms" in result.stderr


def test_rules_and_schema_commands_match_the_published_docs():
    assert cli("rules", "--markdown").stdout == (ROOT / "docs" / "rules.md").read_text("utf-8")
    published = json.loads((ROOT / "docs" / "patient-history.schema.json").read_text("utf-8"))
    assert json.loads(cli("schema").stdout) == published
    listing = cli("rules").stdout
    assert "trial.adequate" in listing


def test_no_arguments_shows_help():
    result = cli()
    assert "assess" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_an_adequate_trial_is_at_least_28_days():
    example = str(ROOT / "examples" / "stage-2-trd.json")
    result = cli("assess", example, "--adequate-trial-days", "1")
    assert result.returncode == 2
    assert result.stderr == (
        "error: --adequate-trial-days: got 1; expected a number of days from 28 (4 weeks, "
        "the shortest any source accepts; see docs/settings.md and docs/rules.md) to 365\n"
    )
    assert cli("assess", example, "--adequate-trial-days", "28").returncode == 0


def test_a_knowledge_folder_without_knowledge_data_is_named(tmp_path):
    """It said 'manifest.yaml: file is missing', naming neither the setting nor the folder."""
    example = str(ROOT / "examples" / "stage-2-trd.json")
    commands = [("assess", example), ("measure", "cms159", "--period", "2026", str(tmp_path))]
    for folder, command in zip((tmp_path / "missing", tmp_path), commands, strict=True):
        result = cli(*command, env={"TRDNAV_KNOWLEDGE_DIR": str(folder)})
        assert result.returncode == 2
        assert result.stderr == (
            f'error: settings.knowledge_dir: got "{folder}"; expected a folder of knowledge '
            "data, with its manifest.yaml\n"
        )


@pytest.mark.parametrize(
    "args", [("assess", "--json", "--fhir"), ("rules", "--json", "--markdown")]
)
def test_two_output_formats_at_once_are_refused(args):
    """One of them was printed and the other passed over without a word."""
    example = str(ROOT / "examples" / "stage-2-trd.json")
    command, *flags = args
    result = cli(command, *flags, *([example] if command == "assess" else []))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "expected one output format, not both" in result.stderr


def test_every_option_of_every_command_says_what_it_does():
    """--json of the course commands and --password-stdin of reset-password had no help."""
    import typer.main

    from trdnav.cli.app import app

    def commands(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():  # a group's commands
            yield from commands(sub, [*path, name])

    found = list(commands(typer.main.get_command(app), ["trdnav"]))
    assert len(found) > 30  # every sub-command was reached
    silent = [
        f"{' '.join(path)} {param.opts[0]}"
        for path, command in found
        for param in command.params
        if param.param_type_name == "option" and not param.hidden and not (param.help or "").strip()
    ]
    assert silent == []
