import pytest

from trdnav.errors import InputError
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
