import json
import shutil

import pytest

from trdnav.core.rule_params import AdequacyParams
from trdnav.errors import InputError
from trdnav.knowledge.loader import DATA_DIR
from trdnav.service import knowledge_for
from trdnav.settings import load_settings


def test_defaults():
    s = load_settings(environ={})
    assert s.adequate_trial_days is None
    assert s.knowledge_dir is None


def test_precedence_default_file_environment_cli(tmp_path):
    config = tmp_path / "trdnav.toml"
    config.write_text("adequate_trial_days = 30\n", encoding="utf-8")
    assert load_settings(config_file=config, environ={}).adequate_trial_days == 30
    env = {"TRDNAV_ADEQUATE_TRIAL_DAYS": "35"}
    assert load_settings(config_file=config, environ=env).adequate_trial_days == 35
    cli = {"adequate_trial_days": 40}
    assert load_settings(cli, config_file=config, environ=env).adequate_trial_days == 40
    env_file = {"TRDNAV_CONFIG": str(config)}
    assert load_settings(environ=env_file).adequate_trial_days == 30


def test_bad_values_name_the_setting(tmp_path):
    with pytest.raises(InputError) as info:
        load_settings(environ={"TRDNAV_ADEQUATE_TRIAL_DAYS": "0"})
    assert info.value.problems[0].path == "settings.adequate_trial_days"
    bad = tmp_path / "bad.toml"
    bad.write_text("adequate_trial_days = [", encoding="utf-8")
    with pytest.raises(InputError, match="valid TOML"):
        load_settings(config_file=bad, environ={})
    with pytest.raises(InputError, match="an existing TOML file"):
        load_settings(config_file=tmp_path / "missing.toml", environ={})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("adequate_days = 3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"settings\.adequate_days"):
        load_settings(config_file=unknown, environ={})


def test_a_settings_file_is_read_whole_or_refused(tmp_path):
    """Settings beside a [trdnav] table were ignored unseen: a clinical setting (the
    adequate trial length) then changed no result; a file that is not one was a crash."""
    table = tmp_path / "table.toml"
    table.write_text("[trdnav]\nadequate_trial_days = 56\n", encoding="utf-8")
    assert load_settings(config_file=table, environ={}).adequate_trial_days == 56
    beside = tmp_path / "beside.toml"
    beside.write_text("adequate_trial_days = 120\n[trdnav]\ntoken_minutes = 60\n", "utf-8")
    with pytest.raises(InputError) as info:
        load_settings(config_file=beside, environ={})
    [problem] = info.value.problems
    assert (problem.path, problem.value) == (f"{beside}: adequate_trial_days", 120)
    assert "inside the [trdnav] table" in problem.expected
    scalar = tmp_path / "scalar.toml"
    scalar.write_text('trdnav = "x"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"a table of settings \(\[trdnav\]\)"):
        load_settings(config_file=scalar, environ={})
    with pytest.raises(InputError, match="a TOML file"):
        load_settings(config_file=tmp_path, environ={})  # a folder
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match="a TOML file in UTF-8"):
        load_settings(config_file=binary, environ={})


def test_bad_values_name_the_option_they_came_from():
    """A value given as a command-line option is named by that option; the others by the
    setting (also when an option gave another value)."""
    env = {"TRDNAV_ERA_GAP_DAYS": "-1", "TRDNAV_DATABASE_URL": "sqlite:///x.db"}
    cli = {
        "adequate_trial_days": 7,
        "database_url": "mysql://ann:s3cret@host/db",
        "era_gap_days": None,
    }
    with pytest.raises(InputError) as info:
        load_settings(cli, environ=env)
    assert sorted(info.value.lines()) == [
        "--adequate-trial-days: got 7; expected a number of days from 28 (4 weeks, the shortest "
        "any source accepts; see docs/settings.md and docs/rules.md) to 365",
        '--database-url: got "mysql://ann:***@host/db"; expected a sqlite:/// or postgresql:// URL',
        'settings.era_gap_days: got "-1"; expected a number of at least 0',
    ]
    settings = load_settings({"era_gap_days": 3, "adequate_trial_days": None}, environ=env)
    assert settings.path_of("era_gap_days") == "--era-gap-days"
    assert settings.path_of("adequate_trial_days") == "settings.adequate_trial_days"
    assert settings.path_of("database_url") == "settings.database_url"


def test_values_that_are_not_numbers_or_booleans_say_what_was_expected():
    env = {
        "TRDNAV_ERA_GAP_DAYS": "thirty",
        "TRDNAV_ADEQUATE_TRIAL_DAYS": "42.5",
        "TRDNAV_CDS_ALLOW_HTTP_LOOPBACK": "perhaps",
    }
    with pytest.raises(InputError) as info:
        load_settings(environ=env)
    assert sorted(info.value.lines()) == [
        'settings.adequate_trial_days: got "42.5"; expected an integer',
        'settings.cds_allow_http_loopback: got "perhaps"; expected true or false',
        'settings.era_gap_days: got "thirty"; expected an integer',
    ]


def test_a_database_url_must_name_a_known_database_and_secrets_are_not_echoed():
    with pytest.raises(InputError) as info:
        load_settings(
            environ={
                "TRDNAV_DATABASE_URL": "mysql://ann:s3cret@host/db",
                "TRDNAV_SECRET_KEY": "too-short-secret",
            }
        )
    found = {p.path: p for p in info.value.problems}
    assert found["settings.database_url"].value == "mysql://ann:***@host/db"
    assert found["settings.database_url"].expected == "a sqlite:/// or postgresql:// URL"
    assert found["settings.secret_key"].value == "***"
    assert found["settings.secret_key"].expected == "a secret of at least 32 characters"
    assert "s3cret" not in str(info.value)
    assert "too-short-secret" not in str(info.value)
    for url in ("sqlite:///x.db", "postgresql://h/db", "postgresql+psycopg://h/db"):
        assert load_settings(environ={"TRDNAV_DATABASE_URL": url}).database_url == url


def test_an_adequate_trial_is_at_least_the_28_days_any_source_accepts():
    for days in ("1", "27", "366"):
        with pytest.raises(InputError) as info:
            load_settings(environ={"TRDNAV_ADEQUATE_TRIAL_DAYS": days})
        assert info.value.lines() == [
            f'settings.adequate_trial_days: got "{days}"; expected a number of days from 28 '
            "(4 weeks, the shortest any source accepts; see docs/settings.md and docs/rules.md) "
            "to 365"
        ]
    assert load_settings({"adequate_trial_days": 28}, environ={}).adequate_trial_days == 28
    assert load_settings({"adequate_trial_days": 365}, environ={}).adequate_trial_days == 365


def test_holiday_country_and_subdivision_are_checked_when_loaded():
    env = {"TRDNAV_HOLIDAY_COUNTRY": "XX"}
    with pytest.raises(InputError) as info:
        load_settings(environ=env)
    assert info.value.lines() == [
        'settings.holiday_country: got "XX"; expected an ISO country code supported by the '
        "holidays library, e.g. US, GB, DE"
    ]
    with pytest.raises(InputError) as info:
        load_settings(environ={"TRDNAV_HOLIDAY_SUBDIVISION": "ENG"})  # of GB, not of the US
    assert info.value.lines()[0].startswith(
        'settings.holiday_subdivision: got "ENG"; expected a subdivision of US: AK, AL, AR'
    )
    with pytest.raises(InputError, match="expected a subdivision of GB: ENG, NIR, SCT, WLS"):
        load_settings(environ={"TRDNAV_HOLIDAY_COUNTRY": "GB", "TRDNAV_HOLIDAY_SUBDIVISION": "CA"})
    good = load_settings(
        environ={"TRDNAV_HOLIDAY_COUNTRY": "GB", "TRDNAV_HOLIDAY_SUBDIVISION": "ENG"}
    )
    assert (good.holiday_country, good.holiday_subdivision) == ("GB", "ENG")
    assert load_settings({"holiday_subdivision": "CA"}, environ={}).holiday_subdivision == "CA"


def test_the_shortest_trial_comes_from_the_knowledge_base_in_use(tmp_path):
    """The 28 days are knowledge data: a knowledge folder with another floor is obeyed."""
    folder = tmp_path / "knowledge"
    shutil.copytree(DATA_DIR, folder)
    rules = folder / "rules.yaml"
    text = rules.read_text("utf-8")
    rules.write_text(text.replace("shortest_duration_days: 28", "shortest_duration_days: 35"))
    expected = (
        "got 30; expected a number of days from 35 (5 weeks, the shortest any source accepts; "
        "see docs/settings.md and docs/rules.md) to 365"
    )
    given = {"TRDNAV_ADEQUATE_TRIAL_DAYS": "30", "TRDNAV_KNOWLEDGE_DIR": str(folder)}
    with pytest.raises(InputError) as info:
        knowledge_for(load_settings(environ=given))
    assert info.value.lines() == [f"settings.adequate_trial_days: {expected}"]
    settings = load_settings(
        {"adequate_trial_days": 30}, environ={"TRDNAV_KNOWLEDGE_DIR": str(folder)}
    )
    with pytest.raises(InputError) as info:
        knowledge_for(settings)
    assert info.value.lines() == [f"--adequate-trial-days: {expected}"]
    at_floor = load_settings({"adequate_trial_days": 35, "knowledge_dir": folder}, environ={})
    kb = knowledge_for(at_floor)
    assert kb.params("trial.adequate", AdequacyParams).shortest_duration_days == 35


def test_a_cds_client_issuer_is_at_most_what_the_database_keeps():
    """Each call's token id, card and feedback are kept with the client's issuer, in columns
    of 255 characters: a longer issuer was cut there, so that two such clients were one."""
    client = {"clinic": "North", "jwks": "https://ehr.example.org/jwks"}
    longest = "https://ehr.example.org/" + "i" * 231
    assert len(longest) == 255
    env = {"TRDNAV_CDS_CLIENTS": json.dumps({longest: client})}
    assert list(load_settings(environ=env).cds_clients) == [longest]
    env = {"TRDNAV_CDS_CLIENTS": json.dumps({longest + "i": client})}
    with pytest.raises(InputError) as info:
        load_settings(environ=env)
    [problem] = info.value.problems
    assert problem.path == f"settings.cds_clients.{longest}i.[key]"
    assert (problem.value, problem.expected) == (
        "256 characters",
        "a text of at most 255 characters",
    )
