"""The board's credentials: Telegram's signed launch data, and the session cookie."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest

from bot.board.auth import (
    Refusal,
    Refused,
    Session,
    seal,
    sign_init_data,
    start_incident,
    unseal,
    verify_init_data,
)
from bot.core.config import ConfigError, parse_settings, read_config

TOKEN = "123456:TEST-token"
NOW = 1_800_000_000


def _launch(user_id: int = 42, auth_date: int = NOW, **extra: str) -> str:
    user = {"id": user_id, "first_name": "Marc", "last_name": "D", "language_code": "fr"}
    fields = {
        "query_id": "AAH",
        "user": json.dumps(user, separators=(",", ":")),
        "auth_date": str(auth_date),
        **extra,
    }
    return sign_init_data(fields, TOKEN)


def test_telegrams_own_example_of_signed_data_is_accepted() -> None:
    # computed independently, as Telegram documents it (secret = HMAC("WebAppData", token))
    fields = {"auth_date": str(NOW), "user": '{"id":7,"first_name":"A"}', "chat_type": "sender"}
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    launch = verify_init_data(urlencode({**fields, "hash": digest}), TOKEN, 3600, now=NOW + 5)
    assert launch.user.id == 7
    assert launch.user.name == "A"


def test_valid_launch_data_gives_the_user_and_the_start_parameter() -> None:
    launch = verify_init_data(_launch(start_param="i12"), TOKEN, 86400, now=NOW + 10)
    assert (launch.user.id, launch.user.name, launch.user.language_code) == (42, "Marc D", "fr")
    assert start_incident(launch.start_param) == 12


@pytest.mark.parametrize(
    "tamper",
    [
        lambda data: data.replace("Marc", "Mark"),  # altered
        lambda data: data.replace("%22id%22%3A42", "%22id%22%3A43"),  # another user
        lambda data: data + "&extra=1",  # a field added
        lambda data: "&".join(p for p in data.split("&") if not p.startswith("hash=")),
        lambda data: data.replace("hash=", "hash=0"),
        lambda data: "garbage",
        lambda data: "",
        lambda data: "a=1&a=2",
        lambda data: "x" * 10_000,
    ],
)
def test_forged_or_altered_launch_data_is_refused(tamper: object) -> None:
    data = tamper(_launch())  # type: ignore[operator]
    with pytest.raises(Refused) as caught:
        verify_init_data(data, TOKEN, 86400, now=NOW)
    assert caught.value.reason is Refusal.FORGED


def test_launch_data_signed_for_another_bot_is_forged() -> None:
    data = _launch()
    with pytest.raises(Refused) as caught:
        verify_init_data(data, "654321:OTHER", 86400, now=NOW)
    assert caught.value.reason is Refusal.FORGED
    assert caught.value.language == "fr"  # said in the user's language all the same


def test_stale_launch_data_is_refused_and_fresh_is_not() -> None:
    data = _launch(auth_date=NOW - 3601)
    with pytest.raises(Refused) as caught:
        verify_init_data(data, TOKEN, 3600, now=NOW)
    assert caught.value.reason is Refusal.STALE
    assert verify_init_data(_launch(auth_date=NOW - 3599), TOKEN, 3600, now=NOW).user.id == 42
    with pytest.raises(Refused):  # from the future
        verify_init_data(_launch(auth_date=NOW + 3600), TOKEN, 3600, now=NOW)


def test_signed_data_without_a_user_is_refused() -> None:
    data = sign_init_data({"auth_date": str(NOW), "chat_instance": "1"}, TOKEN)
    with pytest.raises(Refused) as caught:
        verify_init_data(data, TOKEN, 3600, now=NOW)
    assert caught.value.reason is Refusal.FORGED


def test_hash_is_checked_over_decoded_values_in_key_order() -> None:
    data = _launch(start_param="i3")
    shuffled = urlencode(list(reversed(parse_qsl(data))))
    assert verify_init_data(shuffled, TOKEN, 86400, now=NOW).start_param == "i3"


def test_start_parameters() -> None:
    assert start_incident("i7") == 7
    assert start_incident(None) is None
    for bad in ("7", "i", "ix", "i-1", "i0", "i" + "9" * 40):
        assert start_incident(bad) is None


def test_a_session_cookie_round_trips_and_ends() -> None:
    now = time.time()
    value = seal(Session(person_id=5, expires=int(now) + 60, token="t" * 43), TOKEN)
    assert unseal(value, TOKEN, now=now) == Session(5, int(now) + 60, "t" * 43)
    assert unseal(value, TOKEN, now=now + 61) is None  # ended
    assert unseal(value, "654321:OTHER", now=now) is None  # another key


@pytest.mark.parametrize(
    "value", [None, "", "a", "a.b", "a.b.c", "x" * 600, "eyJwIjo1fQ.AAAA", "%%%.%%%"]
)
def test_a_bad_session_cookie_is_no_session(value: str | None) -> None:
    assert unseal(value, TOKEN) is None


def test_a_session_cookie_altered_is_no_session() -> None:
    value = seal(Session(person_id=5, expires=NOW + 60), TOKEN)
    payload, signature = value.split(".")
    other = seal(Session(person_id=6, expires=NOW + 60), TOKEN).split(".")[0]
    assert unseal(f"{other}.{signature}", TOKEN, now=NOW) is None
    assert unseal(f"{payload}.{signature}", TOKEN, now=NOW) is not None


def test_board_settings_defaults_and_checks() -> None:
    settings = parse_settings({"telegram": {"token": "1:a"}}, env={})
    assert settings.board.enabled
    assert settings.board_url == "http://127.0.0.1:8080"
    hooked = parse_settings(
        {
            "telegram": {"token": "1:a", "mode": "webhook"},
            "webhook": {"url": "https://x/tg", "port": 8443},
            "board": {"public_url": "https://board.example.org/"},
        },
        env={},
    )
    assert hooked.web_address == ("127.0.0.1", 8443)
    assert hooked.board_url == "https://board.example.org"
    for bad in ({"public_url": "ftp://x"}, {"app_name": "no spaces"}, {"port": 70000}):
        with pytest.raises(ConfigError):
            parse_settings({"telegram": {"token": "1:a"}, "board": bad}, env={})


def test_check_config_warns_about_a_plain_http_board(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[board]\npublic_url = "http://10.0.0.5:8080"\napp_name = "board"\n')
    warnings = read_config(path, env={"TELEGRAM_BOT_TOKEN": "1:a"}).warnings
    assert len(warnings) == 1
    assert "https" in warnings[0] and f"{path}:2:" in warnings[0]
    path.write_text('[board]\napp_name = "board"\n')
    assert "public_url" in read_config(path, env={"TELEGRAM_BOT_TOKEN": "1:a"}).warnings[0]
    path.write_text('[board]\npublic_url = "https://board.example.org"\n')
    assert read_config(path, env={"TELEGRAM_BOT_TOKEN": "1:a"}).warnings == []
