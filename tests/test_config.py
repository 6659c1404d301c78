from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.config import (
    NO_TOKEN_HELP,
    TOKEN_ENV,
    ConfigError,
    Mode,
    load_settings,
    parse_settings,
)
from bot.core.db import SqliteDatabase
from bot.core.db.dialect import latest_version
from bot.resources import roster_csv

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


def test_every_problem_gets_one_line_naming_its_key_entry_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[telegram]\ntoken = 5\nmode = "carrier-pigeon"\ncolour = "red"\n'
        '[[people]]\nid = 7\nname = "X"\nroles = ["boss"]\n'
        '[[chats]]\nid = -1\nname = "c"\nkind = "operations"\ncountry = "DE"\n'
        'languages = ["fr"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert caught.value.problems == [
        f"{path}:2: telegram.token: should be text in quotes, not 5",
        f'{path}:3: telegram.mode: should be "polling" or "webhook", not "carrier-pigeon"',
        f"{path}:4: telegram.colour: unknown key",
        f'{path}:8: people "X" (1st) roles: should be "admin", "commander", "liaison" or'
        ' "spokesperson", not "boss"',
        f'{path}:13: chats "c" (1st) country: should be "FR" or "BE", not "DE"',
    ]


def test_duplicates_and_webhook_without_url_are_reported() -> None:
    data = {
        "telegram": {"token": "1:a", "mode": "webhook"},
        "people": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}],
    }
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, env={})
    assert caught.value.problems == [
        'people "b" (2nd) id: person 1 is listed twice (also people "a" (1st))',
        'webhook.url: required when telegram.mode is "webhook"',
    ]


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"i18n": {"timezone": "Europe/Atlantis"}}, env={})
    assert caught.value.problems == ["i18n.timezone: unknown time zone 'Europe/Atlantis'"]


@pytest.mark.parametrize(
    ("base_url", "file_url"),
    [
        ("https://api.telegram.org/bot", "https://api.telegram.org/file/bot"),
        ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot"),
        ("https://bot.example.org/telegram/bot", "https://bot.example.org/telegram/file/bot"),
        ("http://10.0.0.5/bot{token}/", "http://10.0.0.5/file/bot{token}/"),
    ],
)
def test_the_file_address_is_derived_from_base_url(base_url: str, file_url: str) -> None:
    settings = parse_settings({"telegram": {"base_url": base_url}}, env={})
    assert settings.telegram.base_file_url == file_url
    given = {"base_url": base_url, "base_file_url": "https://files.example.org/bot"}
    assert (
        parse_settings({"telegram": given}, env={}).telegram.base_file_url
        == "https://files.example.org/bot"
    )


def test_a_file_address_that_cannot_be_derived_must_be_given(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[telegram]\ntoken = "1:a"\nbase_url = "https://bot.example.org/api/"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}")
    assert "base_file_url: missing, and it cannot be derived from base_url" in problem


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
        f'{path}:3: telegram.mode: should be "polling" or "webhook", not "x"',
        f"{path}:5: storage.paht: unknown key (did you mean path?)",
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


# Two registered chats, one an agency's: the base of the files below (lines 1 to 14).
CHATS = """\
[[chats]]
id = -1001
name = "Tournai ops"
kind = "operations"
country = "BE"
languages = ["fr", "nl"]

[[chats]]
id = -1002
name = "Zone Fluvia"
kind = "agency"
country = "BE"
languages = ["nl"]
agency = "Fluvia"
"""
WITH_TOKEN = {"PATH": "/usr/bin:/bin", TOKEN_ENV: "1:abc"}


def test_a_file_with_several_problems_reports_all_of_them_with_entry_and_line(
    tmp_path: Path,
) -> None:
    # an unknown key used to hide the rest: the missing token, the time, the 3rd chat's id
    path = tmp_path / "config.toml"
    path.write_text(
        CHATS
        + "\n"  # 15
        + "[[chats]]\n"  # 16
        + 'name = "Zone WAPI"\n'
        + "id = 1003\n"  # 18
        + 'kind = "agency"\n'
        + 'country = "BE"\n'
        + 'languages = ["fr"]\n'
        + 'agency = "ZS WAPI"\n'
        + "\n"
        + "[telegram]\n"  # 24
        + 'mode = "polling"\n'
        + 'colour = "red"\n'  # 26
        + "\n"
        + "[media.press_contact]\n"
        + '# a multi-line text that looks like TOML does not shift the lines\nfr = """\n'
        + '[[chats]]\nid = 5\nrollcall_time = "x"\n"""\n'
        + "[roster]\n"
        + 'rollcall_time = "7h30"\n'  # 36
    )
    result = _run_cli("check-config", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}:18: chats \"Zone WAPI\" (3rd) id: 1003 is not a group's id (a group's id is"
        " negative, like -1001234567890; type /start in the group and the bot answers with it)",
        f"{path}:26: telegram.colour: unknown key",
        f'{path}:36: roster.rollcall_time: "7h30" is not a time like 07:30 ("" for no roll-call)',
        *NO_TOKEN_HELP.splitlines(),
    ]
    assert "pattern" not in result.stderr


def test_a_person_whose_agency_has_no_chat_is_a_warning_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        CHATS
        + '\n[[people]]\nid = 5\nname = "Els Vermeulen"\nagency = "Fluvai"\n'  # 16..19
        + '\n[[people]]\nid = 6\nname = "Luc"\nagency = "Croix-Rouge"\n'  # 21..24
        + '\n[[people]]\nid = 7\nname = "Jan"\nagency = "fluvia"\n'  # same agency, folded
    )
    result = _run_cli("check-config", "--config", str(path), env=WITH_TOKEN)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f'warning: {path}:19: people "Els Vermeulen" (1st) agency: no [[chats]] entry of kind'
        ' "agency" has agency = "Fluvai" (did you mean "Fluvia"?)',
        f'warning: {path}:24: people "Luc" (2nd) agency: no [[chats]] entry of kind "agency"'
        ' has agency = "Croix-Rouge"',
    ]
    assert result.stdout.splitlines() == [
        "storage: passerelle.db: no database yet (created at the first start, schema"
        f" {latest_version()})",
        f"{path}: OK (2 chats, 3 people, 2 warnings)",
    ]


def test_an_agency_chat_must_name_its_agency(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CHATS.replace('agency = "Fluvia"\n', ""))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={TOKEN_ENV: "1:a"})
    assert caught.value.problems == [
        f'{path}:8: chats "Zone Fluvia" (2nd) agency: missing: an agency chat names its agency as'
        ' the roster does (agency = "…"); the offers for that agency\'s units are sent to it'
    ]


def test_alert_chats_and_exclusions_must_be_registered(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CHATS + "\n[alerts]\nchats = [-1002, -1009]\nexclude = [\n  -1001,\n  -7,\n]\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={TOKEN_ENV: "1:a"})
    assert caught.value.problems == [
        f"{path}:17: alerts.chats: chat -1009 is not among the [[chats]]",
        f"{path}:18: alerts.exclude: chat -7 is not among the [[chats]]",
    ]


@pytest.mark.parametrize(
    ("languages", "problem"),
    [
        (
            ["fr", "nl", "en"],
            "a group reads one or two languages (every message is written in each), not 3:"
            ' ["fr", "nl", "en"]',
        ),
        ([], 'one or two languages, like ["fr"] or ["fr", "nl"]'),
        (["fr", "fr"], '["fr", "fr"] names a language twice'),
    ],
)
def test_a_group_reads_one_or_two_languages(languages: list[str], problem: str) -> None:
    chat = {"id": -5, "name": "Ops", "kind": "operations", "country": "BE"}
    assert parse_settings({"chats": [{**chat, "languages": ["fr", "nl"]}]}, env={})
    with pytest.raises(ConfigError) as caught:
        parse_settings({"chats": [{**chat, "languages": languages}]}, env={})
    assert caught.value.problems == [f'chats "Ops" (1st) languages: {problem}']


def test_a_group_id_is_negative_and_a_person_id_positive() -> None:
    data = {
        "chats": [
            {"id": -5, "name": "Ops", "kind": "operations", "country": "BE", "languages": ["fr"]},
            {
                "id": 100000005,
                "name": "Els",
                "kind": "agency",
                "country": "BE",
                "languages": ["nl"],
                "agency": "Fluvia",
            },
        ],
        "people": [{"id": -1001, "name": "Ops group"}],
    }
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, env={})
    assert caught.value.problems == [
        "chats \"Els\" (2nd) id: 100000005 is not a group's id (a group's id is negative, like"
        " -1001234567890; type /start in the group and the bot answers with it)",
        'people "Ops group" (1st) id: -1001 is not a person\'s id (a Telegram user id is a'
        " positive number)",
    ]


def test_check_config_warns_about_roster_agencies_without_a_chat(tmp_path: Path) -> None:
    db_path = tmp_path / "roster.db"

    async def stock() -> None:
        db = SqliteDatabase(str(db_path))
        await db.open()
        try:
            await roster_csv.import_roster(
                db,
                "code,type,name,agency,country,lat,lon,capacity,status\n"
                "BE-FLU-1,ambulance,Amb 1,Fluvia,BE,50.9,3.2,1,available\n"
                "BE-WHK-1,ambulance,Amb 2,Westhoek,BE,50.9,2.7,1,available\n"
                "BE-WHK-2,ambulance,Amb 3,WESTHOEK,BE,50.9,2.7,1,available\n"
                "BE-WHK-3,ambulance,Amb 4,Westhoek,BE,50.9,2.7,1,available\n"
                "FR-S02-1,ambulance,VSAV 1,SDIS 02,FR,49.8,3.3,1,available\n",
            )
        finally:
            await db.close()

    asyncio.run(stock())
    before = db_path.read_bytes()
    path = tmp_path / "config.toml"
    path.write_text(f"[storage]\npath = {json.dumps(str(db_path))}\n\n" + CHATS)
    result = _run_cli("check-config", "--config", str(path), env=WITH_TOKEN)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f'warning: {db_path}: agency "SDIS 02" has 1 unit in the roster but no agency chat:'
        ' they are never asked (add a [[chats]] entry with kind = "agency", agency = "SDIS 02")',
        f'warning: {db_path}: agency "Westhoek" has 3 units in the roster but no agency chat:'
        ' they are never asked (add a [[chats]] entry with kind = "agency", agency = "Westhoek")',
    ]
    assert "2 warnings" in result.stdout
    assert db_path.read_bytes() == before  # read only


def test_check_config_does_not_create_the_database(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[storage]\npath = {json.dumps(str(tmp_path / 'none.db'))}\n")
    result = _run_cli("check-config", "--config", str(path), env=WITH_TOKEN)
    assert (result.returncode, result.stderr) == (0, "")
    assert not (tmp_path / "none.db").exists()


def test_have_tokens_are_checked_one_line_each(tmp_path: Path) -> None:
    path = tmp_path / "have.toml"
    path.write_text(
        "[have]\n"
        'tokens = { "CHU de Lille" = "short", "UZ Gent" = "x" }\n'
        "per_hospital_per_minute = 0\n"
        'token_for_all = "nope"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    problems = caught.value.problems
    assert len([p for p in problems if "have." in p]) == 4, problems
    assert any("have.tokens.CHU de Lille" in p and "24" in p for p in problems), problems
    assert any("have.tokens.UZ Gent" in p for p in problems), problems
    assert any("have.per_hospital_per_minute" in p for p in problems), problems
    assert any("have.token_for_all: unknown key" in p for p in problems), problems
    # the same token for two hospitals is one problem, naming both
    twice = "t" * 30
    path.write_text(f'[have]\ntokens = {{ "A" = "{twice}", "B" = "{twice}" }}\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert [p for p in caught.value.problems if "have." in p] == [
        f"{path}:2: have.tokens: 'B' has the same token as 'A': one each"
    ]


def test_the_roster_staleness_reaches_the_offers() -> None:
    settings = parse_settings({"roster": {"stale_after_hours": 6}}, env={})
    assert settings.requests.stale_after_hours == 6
