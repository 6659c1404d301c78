from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.config import TOKEN_ENV, ConfigError, Mode, load_settings, parse_settings

ROOT = Path(__file__).resolve().parent.parent


def test_example_config_is_valid_and_documents_every_key() -> None:
    settings = load_settings(ROOT / "config.example.toml", env={TOKEN_ENV: "1:abc"})
    assert settings.telegram.mode is Mode.POLLING
    assert {c.kind.value for c in settings.chats} >= {"operations", "liaison", "agency"}
    example = (ROOT / "config.example.toml").read_text()
    for section, model in settings:
        if isinstance(model, list):
            continue
        for key in type(model).model_fields:
            assert f"{key} =" in example or f"# {key} =" in example, f"{section}.{key}"


def test_environment_token_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[telegram]\ntoken = "1:file"\n')
    assert load_settings(path, env={TOKEN_ENV: "2:env"}).token == "2:env"
    assert load_settings(path, env={}).token == "1:file"


def test_every_problem_gets_one_line_naming_its_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[telegram]\ntoken = 5\nmode = "carrier-pigeon"\ncolour = "red"\n'
        '[[people]]\nid = 7\nname = "X"\nroles = ["boss"]\n'
        '[[chats]]\nid = -1\nname = "c"\nkind = "operations"\ncountry = "DE"\n'
        'languages = ["fr"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    problems = caught.value.problems
    assert "telegram.token: Input should be a valid string" in problems
    assert any(p.startswith("telegram.mode:") for p in problems)
    assert "telegram.colour: unknown key" in problems
    assert any(p.startswith("people[0].roles[0]:") for p in problems)
    assert any(p.startswith("chats[0].country:") for p in problems)
    assert len(problems) == 5


def test_duplicates_and_webhook_without_url_are_reported() -> None:
    data = {
        "telegram": {"token": "1:a", "mode": "webhook"},
        "people": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}],
    }
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, env={})
    assert "people[1].id: person 1 is listed twice" in caught.value.problems
    assert "webhook.url: required when telegram.mode is 'webhook'" in caught.value.problems


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"i18n": {"timezone": "Europe/Atlantis"}}, env={})
    assert caught.value.problems == ["i18n.timezone: unknown time zone 'Europe/Atlantis'"]


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env or {"PATH": "/usr/bin:/bin"},
        timeout=60,
    )


def test_bad_file_stops_with_exit_code_2_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[telegram]\ntoken = "1:a"\nmode = "x"\n[storage]\npaht = "a.db"\n')
    result = _run_cli("check-config", "--config", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "telegram.mode: Input should be 'polling' or 'webhook'",
        "storage.paht: unknown key",
    ]


def test_no_token_says_how_to_get_one_and_how_to_run_the_demo(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[storage]\npath = "x.db"\n')
    result = _run_cli("--config", str(path))
    assert result.returncode == 2
    assert "@BotFather" in result.stderr
    assert "python -m bot demo" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_accepts_the_example_with_a_token() -> None:
    result = _run_cli(
        "check-config",
        "--config",
        "config.example.toml",
        env={"PATH": "/usr/bin:/bin", TOKEN_ENV: "1:abc"},
    )
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_escalation_levels_and_chats_are_checked() -> None:
    data = {
        "telegram": {"token": "1:a"},
        "chats": [{"id": -5, "name": "c", "kind": "liaison", "country": "BE", "languages": ["fr"]}],
        "escalation": {"chats": {"BE.provincial": [-5, -6]}},
    }
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, env={})
    assert caught.value.problems == [
        "escalation.chats.BE.provincial: chat -6 is not among the [[chats]]"
    ]
    data["escalation"] = {"chats": {"BE.departmental": [-5]}}
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, env={})
    assert caught.value.problems[0].startswith(
        "escalation.chats: unknown level BE.departmental (one of BE.communal"
    )
