"""Who opens the board: Telegram's signed launch data (initData) and the board's own session.

A Mini App (or a `web_app` button) gets `initData` from the Telegram client, in the page's URL
fragment (`#tgWebAppData=…`). It is a query string signed by Telegram with the bot's token, as
https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app describes:

    secret = HMAC_SHA256(key="WebAppData", msg=bot_token)
    hash   = hex(HMAC_SHA256(key=secret, msg=data_check_string))

where `data_check_string` is every field but `hash`, as `key=value` (value decoded), sorted by
key, joined by newlines. Data whose hash differs is forged or altered; data whose `auth_date`
is older than `[board] init_data_max_age` is stale (a copied URL replayed later).

Once the launch data or a personal link's token is checked, the page holds a session: a cookie
signed with a key derived from the bot token (HMAC-SHA256), naming the person and when the
session ends (`[board] session_hours`). A session opened with a personal link also carries that
link's token, checked again on every request, so `/board revoke` ends it at once. Nothing here
touches the database or Telegram: pure functions of their inputs and the clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode

COOKIE = "passerelle_board"
# launch data longer than this is not Telegram's (it is a few hundred bytes)
MAX_INIT_DATA = 4096
# a client's clock a little ahead of ours is not forgery
CLOCK_SKEW = 60


class Refusal(StrEnum):
    """Why the board is not opened (the API's `error` codes)."""

    NO_CREDENTIALS = "no_credentials"
    FORGED = "forged"
    STALE = "stale"
    EXPIRED = "expired"
    REVOKED = "revoked"
    STRANGER = "stranger"


class Refused(Exception):
    def __init__(self, reason: Refusal, language: str | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        # the language the refusal is said in, when the credentials told it
        self.language = language


@dataclass(frozen=True)
class TelegramUser:
    """The user Telegram vouches for in the launch data."""

    id: int
    name: str
    username: str | None
    language_code: str | None


@dataclass(frozen=True)
class Launch:
    user: TelegramUser
    auth_date: int
    # the Mini App link's `startapp` parameter (`i12`: incident #12), if any
    start_param: str | None


def _secret(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def sign_init_data(fields: dict[str, str], bot_token: str) -> str:
    """Launch data as Telegram signs it (the tests and the demo make their own with this)."""
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    digest = hmac.new(_secret(bot_token), check.encode(), hashlib.sha256).hexdigest()
    pairs = [*fields.items(), ("hash", digest)]
    return urlencode(pairs)


def verify_init_data(
    init_data: str, bot_token: str, max_age: int, now: float | None = None
) -> Launch:
    """The launch data's user, if Telegram signed it for this bot and it is recent enough;
    `Refused(FORGED)` or `Refused(STALE)` otherwise (with the user's language when it is
    readable, to say so in it)."""
    if not isinstance(init_data, str) or not init_data or len(init_data) > MAX_INIT_DATA:
        raise Refused(Refusal.FORGED)
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise Refused(Refusal.FORGED) from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:  # a field twice: not what Telegram sends
            raise Refused(Refusal.FORGED)
        fields[key] = value
    language = _language_of(fields.get("user"))
    given = fields.pop("hash", "")
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    expected = hmac.new(_secret(bot_token), check.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise Refused(Refusal.FORGED, language)
    try:
        auth_date = int(fields.get("auth_date", ""))
        user = json.loads(fields["user"])
        person = TelegramUser(
            id=int(user["id"]),
            name=" ".join(
                str(part) for part in (user.get("first_name"), user.get("last_name")) if part
            )[:200],
            username=str(user["username"])[:64] if user.get("username") else None,
            language_code=str(user["language_code"])[:16] if user.get("language_code") else None,
        )
    except (KeyError, ValueError, TypeError, AttributeError):
        # signed by Telegram but without a user (a chat's launch data): nobody to show to
        raise Refused(Refusal.FORGED, language) from None
    now = time.time() if now is None else now
    if auth_date > now + CLOCK_SKEW or now - auth_date > max_age:
        raise Refused(Refusal.STALE, language)
    start = fields.get("start_param") or None
    return Launch(user=person, auth_date=auth_date, start_param=start)


def _language_of(user_json: str | None) -> str | None:
    if not user_json:
        return None
    try:
        user = json.loads(user_json)
        code = user.get("language_code") if isinstance(user, dict) else None
    except ValueError:
        return None
    return code if isinstance(code, str) else None


def start_incident(start_param: str | None) -> int | None:
    """`i12` (the card's Mini App link) → 12."""
    if start_param and start_param.startswith("i") and start_param[1:].isdigit():
        ref = int(start_param[1:])
        return ref if 0 < ref < 2**62 else None
    return None


# ---- the session cookie ----------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    person_id: int
    expires: int  # Unix time
    # the personal link's token the session was opened with (checked again on each request)
    token: str | None = None


def _session_key(bot_token: str) -> bytes:
    return hmac.new(b"PasserelleBoardSession", bot_token.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(session: Session, bot_token: str) -> str:
    """The cookie's value: the session, signed."""
    body = {"p": session.person_id, "e": session.expires}
    if session.token is not None:
        body["t"] = session.token  # type: ignore[assignment]
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    signature = _b64(hmac.new(_session_key(bot_token), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def unseal(value: str | None, bot_token: str, now: float | None = None) -> Session | None:
    """The session a cookie holds, if we signed it and it has not ended; None otherwise."""
    if not value or len(value) > 512 or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    expected = _b64(hmac.new(_session_key(bot_token), payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        body = json.loads(_unb64(payload))
        session = Session(
            person_id=int(body["p"]),
            expires=int(body["e"]),
            token=str(body["t"]) if "t" in body else None,
        )
    except (ValueError, KeyError, TypeError):
        return None
    now = time.time() if now is None else now
    return session if session.expires > now else None
