"""The documentation says what the code does: generated files are current, links resolve."""

import re
from pathlib import Path

import yaml

from trdnav.settings import SETTINGS, settings_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_exactly_two_commands():
    body = README.split("\n", 1)[1].lstrip()
    blocks = re.findall(r"```sh\n(.*?)\n```", body, flags=re.S)
    assert body.startswith("```sh\n")
    first, second = blocks[0], blocks[1]
    assert "\n" not in first
    assert "\n" not in second
    assert first.startswith("python3 -m venv .venv && ")
    assert "trdnav" in first
    assert second.startswith("python3 -m venv .venv && ")
    assert second.endswith("pytest")
    between = body[body.index(first) + len(first) : body.index(second)]
    assert between.strip() == "```\n\n```sh".strip()


def test_readme_says_it_is_not_a_medical_device():
    assert "not a medical device" in README.lower()


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "n == 2" in ci
    assert "README.md" in ci


def test_documents_linked_from_the_readme_exist():
    for link in re.findall(r"\]\((docs/[^)]+)\)", README):
        assert (ROOT / link).exists(), link


def test_settings_doc_is_current():
    assert (ROOT / "docs" / "settings.md").read_text(encoding="utf-8") == settings_markdown()
    for spec in SETTINGS:
        assert spec.env.startswith("TRDNAV_")


def test_every_rule_has_a_vignette(kb):
    covered = set()
    for path in (ROOT / "tests" / "cases").glob("*.yaml"):
        covered.update(yaml.safe_load(path.read_text(encoding="utf-8"))["covers"])
    assert set(kb.rules) - covered == set()


def test_rules_doc_lists_every_rule_with_a_source(kb):
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    for rule in kb.rules.values():
        section = text.split(f"## `{rule.id}`", 1)[1].split("\n## ", 1)[0]
        assert "Sources:" in section
        assert "http" in section


def test_performance_doc_gives_the_command_for_each_figure():
    text = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    assert "benchmarks/core_assess.py" in text
