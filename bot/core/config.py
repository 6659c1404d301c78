"""Settings read from a TOML file, validated with pydantic; secrets may come from the environment.

A bad file never produces a traceback: `load_settings` raises `ConfigError`, whose `problems`
are one line per problem, every problem of the file at once (a wrong key does not hide a
missing token), each naming its key, the entry it is in (`chats "Zone Fluvia" (3rd) id`) and
its line in the file. What may be right but looks wrong (a person's agency without an agency
chat) is a warning: `read_config` returns them beside the settings.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import socket
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, TypeGuard, Union, get_args, get_origin
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.core.models import ChatKind, Country
from bot.core.vocabulary import VALID_KEYS, fold

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
TELEGRAM_API = "https://api.telegram.org/bot"


class ConfigError(Exception):
    """The configuration cannot be used; `problems` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Mode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TelegramSettings(_Strict):
    token: str | None = None
    base_url: str = TELEGRAM_API
    # Where files are downloaded from. When absent, derived from base_url (…/bot →
    # …/file/bot): a local Bot API server serves both, and python-telegram-bot itself would
    # keep Telegram's own address whatever base_url says.
    base_file_url: Annotated[str | None, Field(validate_default=True)] = None
    mode: Mode = Mode.POLLING
    poll_timeout: Annotated[int, Field(ge=0, le=60)] = 30
    # Pace sends to Telegram's flood limits on our side (PTB's AIORateLimiter). Turn off only
    # against a Bot API server without such limits (benchmarks of processing cost).
    rate_limit: bool = True
    # Updates of different chats are handled at the same time, up to this many; those of one
    # chat always one after the other, in order. 1: one update at a time.
    concurrent_updates: Annotated[int, Field(ge=1, le=256)] = 64
    # Connections to the Bot API held open for the bot's own calls (answers, edits, the
    # outbox); getUpdates has its own.
    connections: Annotated[int, Field(ge=1, le=256)] = 8

    @field_validator("base_file_url")
    @classmethod
    def _file_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            return value
        base_url = info.data.get("base_url")
        if base_url is None:
            return None  # base_url itself is wrong; that problem is reported
        derived = file_url_of(base_url)
        if derived is None:
            raise ValueError(
                f"missing, and it cannot be derived from base_url {base_url!r} (which has no"
                ' "/bot" to become "/file/bot"): give the file download address'
            )
        return derived


def file_url_of(base_url: str) -> str | None:
    """The file download address of a Bot API at ``base_url``: its last "/bot" becomes
    "/file/bot" (https://api.telegram.org/bot → https://api.telegram.org/file/bot, the same
    for a local Bot API server or a path with {token}); None when there is no "/bot"."""
    parts = urlsplit(base_url)
    head, found, tail = parts.path.rpartition("/bot")
    if not found:
        return None
    return urlunsplit(parts._replace(path=f"{head}/file/bot{tail}"))


class WebhookSettings(_Strict):
    listen: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8443
    url: str | None = None
    url_path: str = "telegram"
    secret_token: str | None = None

    @field_validator("secret_token")
    @classmethod
    def _token_characters(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
            raise ValueError("1 to 256 characters, each a letter, a digit, _ or -")
        return value


class StorageSettings(_Strict):
    path: str = "passerelle.db"
    # a PostgreSQL server instead of the SQLite file at `path` (several instances share it)
    url: str | None = None

    # backups taken by the running bot this often ("6h", "30m", "1d12h"); "": none
    backup_every: str = ""
    # how many of them are kept (the oldest deleted first)
    backup_keep: Annotated[int, Field(ge=1, le=100_000)] = 7
    # where they are written: a folder, relative to the database's folder; "": a folder named
    # after the database, beside it (passerelle.db → passerelle-backups/)
    backup_dir: str = ""

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("postgresql", "postgres"):
            # never the password in a message: only the scheme is wrong
            raise ValueError(
                f"{_show(parts.scheme + ':…' if parts.scheme else value[:12] + '…')} is not a"
                " PostgreSQL address (postgresql://user@host:5432/database)"
            )
        return value

    @field_validator("backup_every")
    @classmethod
    def _duration(cls, value: str) -> str:
        if value:
            parse_duration(value)
        return value

    @property
    def backup_interval(self) -> timedelta | None:
        """How often the running bot takes a backup; None: it takes none."""
        return parse_duration(self.backup_every) if self.backup_every else None

    @property
    def backup_folder(self) -> Path:
        return backup_folder(self.path, self.backup_dir)


_DURATION = re.compile(r"(\d+)\s*([dhms])")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """ "6h", "30m", "1d12h", "90s" → a timedelta; ValueError (the admin's words) otherwise."""
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    if not parts or _DURATION.sub("", compact).strip():
        raise ValueError(
            f'{_show(text)} is not a duration like "6h", "30m", "1d" or "1h30m" ("" for none)'
        )
    seconds = sum(int(number) * _UNITS[unit] for number, unit in parts)
    if seconds < 1:
        raise ValueError(f'{_show(text)} is no time at all: give at least 1s ("" for none)')
    return timedelta(seconds=seconds)


def backup_folder(database: str, folder: str) -> Path:
    """The backup folder: `folder` relative to the database's folder; by default a folder
    named after the database, beside it."""
    path = Path(database)
    return path.parent / folder if folder else path.parent / f"{path.stem}-backups"


def folder_problem(folder: Path) -> str | None:
    """Why files cannot be written into `folder` (created if need be), or None."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return None
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None


def default_instance_name() -> str:
    """This process on this machine: `<hostname>-<pid>`."""
    return f"{socket.gethostname()}-{os.getpid()}"


class InstanceSettings(_Strict):
    """This process among the instances that share one database."""

    # unique among the instances; named in every log line, in the heartbeats and the leases
    name: Annotated[str, Field(default_factory=default_instance_name)]

    @field_validator("name")
    @classmethod
    def _name_characters(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", value):
            raise ValueError("1 to 64 characters, each a letter, a digit, or one of _ . : -")
        return value


class I18nSettings(_Strict):
    default_language: Literal["en", "fr", "nl"] = "en"
    timezone: str = "Europe/Brussels"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class CardSettings(_Strict):
    # Telegram allows about 20 messages a minute in a group; one card edit every 3 s stays
    # well inside that while a burst of replies still shows up promptly.
    min_edit_interval: Annotated[float, Field(ge=0.0, le=60.0)] = 3.0
    timeline_entries: Annotated[int, Field(ge=0, le=20)] = 5


class AlertSettings(_Strict):
    # which registered chats receive alerts: every chat of these kinds and countries…
    kinds: list[ChatKind] = [ChatKind.OPERATIONS, ChatKind.LIAISON, ChatKind.AGENCY]
    countries: list[Country] = [Country.FR, Country.BE]
    # …plus these chat ids, minus those
    chats: list[int] = []
    exclude: list[int] = []
    reminder_minutes: Annotated[int, Field(ge=1, le=1440)] = 10
    cap_sender: str = "passerelle@example.org"
    cap_radius_km: Annotated[float, Field(gt=0, le=200)] = 5.0


class MediaSettings(_Strict):
    # What a stranger writing to the bot privately is told (journalists): one line per
    # language; when absent, a neutral translated line.
    press_contact: dict[Literal["en", "fr", "nl"], str] = {}


class EvidenceSettings(_Strict):
    # Where the files the field sends (photos, voice notes …) are kept: a folder; relative to
    # the database's folder. "": a folder named after the database, beside it
    # (passerelle.db → passerelle-media/).
    dir: str = ""
    # The most the folder may hold, in megabytes (0: no limit): past it, files are recorded as
    # not kept, one log line says so and the liaisons are told.
    max_total_mb: Annotated[float, Field(ge=0)] = 2048.0
    # A download that fails (5xx, the file gone, the network) is tried this many times in all,
    # the first retry after `first_retry` seconds, each next one twice as late (at most 10 min).
    attempts: Annotated[int, Field(ge=1, le=50)] = 6
    first_retry: Annotated[float, Field(ge=0.0, le=3600.0)] = 5.0


class RosterSettings(_Strict):
    # a unit not confirmed for this long is marked stale in /roster
    stale_after_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 24.0
    # the daily roll-call in every agency chat, at this local time (HH:MM); "" for none
    rollcall_time: str = "08:00"

    @field_validator("rollcall_time")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        if value and not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value):
            raise ValueError(f'{_show(value)} is not a time like 07:30 ("" for no roll-call)')
        return value


class RequestSettings(_Strict):
    # estimated arrival: great-circle distance × road_factor at road_speed_kmh
    road_speed_kmh: Annotated[float, Field(gt=0, le=200)] = 60.0
    road_factor: Annotated[float, Field(ge=1, le=3)] = 1.3
    # units farther than this from the incident are not asked
    max_distance_km: Annotated[float, Field(gt=0, le=1000)] = 150.0
    # an offer not answered in this time goes to the next unit
    offer_timeout_minutes: Annotated[float, Field(gt=0, le=1440)] = 10.0
    # how many units are asked beyond those still needed (first come, first served)
    extra_offers: Annotated[int, Field(ge=0, le=20)] = 2
    # not a key of its own: [roster] stale_after_hours, copied here for the offers (a
    # facility's availability older than this is marked stale in its offer)
    stale_after_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 24.0


class EscalationSettings(_Strict):
    # chats told when an incident's phase changes, per "<country>.<level>": BE.communal,
    # BE.provincial, BE.federal, BE.eu, FR.communal, FR.departmental, FR.zonal, FR.national,
    # FR.eu. They hear of the levels left and reached.
    chats: dict[str, list[int]] = {}

    @field_validator("chats")
    @classmethod
    def _known_levels(cls, value: dict[str, list[int]]) -> dict[str, list[int]]:
        unknown = sorted(set(value) - VALID_KEYS)
        if unknown:
            raise ValueError(
                f"unknown level {', '.join(unknown)} (one of {', '.join(sorted(VALID_KEYS))})"
            )
        return value


class SitesSettings(_Strict):
    # planning radius of a site whose CSV row gives none
    default_radius_km: Annotated[float, Field(gt=0, le=100)] = 1.0
    # /sites and the map list the sites within this distance of the incident or place
    near_km: Annotated[float, Field(gt=0, le=200)] = 25.0


class HaveSettings(_Strict):
    """Hospitals' availability in EDXL-HAVE (bot/resources/have.py, README 'EDXL-HAVE'):
    POST /have on the one web server, one token per hospital."""

    # the hospital (the roster's agency, as in its HAVE OrganisationName) → the secret it
    # sends as "Authorization: Bearer <token>"; none: no endpoint
    tokens: dict[str, Annotated[str, Field(min_length=24, max_length=200)]] = {}
    # documents accepted a minute from one hospital, and from all of them together (more
    # are answered 429 and change nothing: the bot keeps answering chats)
    per_hospital_per_minute: Annotated[int, Field(ge=1, le=10_000)] = 60
    total_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 600

    @field_validator("tokens")
    @classmethod
    def _one_token_each(cls, value: dict[str, str]) -> dict[str, str]:
        if any(not name.strip() for name in value):
            raise ValueError("a hospital's name is empty")
        seen: dict[str, str] = {}
        for name, token in value.items():
            if token in seen:
                raise ValueError(f"{name!r} has the same token as {seen[token]!r}: one each")
            seen[token] = name
        return value


class BoardSettings(_Strict):
    """The situation board (bot/board, docs/board.md): a web page opened from Telegram."""

    enabled: bool = True
    # where the one web server listens in polling mode (in webhook mode, it is [webhook]
    # listen and port, and it serves the board beside the webhook); 0: any free port (tests)
    listen: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    # the address people's browsers reach it at ("" = http://<listen>:<port>); Telegram
    # opens Mini Apps only from https, check-config warns otherwise
    public_url: str = ""
    # the Mini App's short name registered with @BotFather (/newapp); "": no Mini App link,
    # the card's button leads to the private chat instead
    app_name: str = ""
    # Telegram's signed initData older than this (seconds) is refused
    init_data_max_age: Annotated[int, Field(ge=60, le=30 * 86400)] = 86400
    # how long a board session (its cookie) lasts
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12.0
    # how long a personal link (/board in private) lasts
    token_days: Annotated[int, Field(ge=1, le=366)] = 30
    # an XYZ raster tile layer under the map ("{z}/{x}/{y}" in it); "": none (offline map)
    tiles_url: str = ""

    @field_validator("public_url", "tiles_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(f"{_show(value)} is not an http:// or https:// address")
        return value.rstrip("/") if value else value

    @field_validator("app_name")
    @classmethod
    def _short_name(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9_]{3,30}", value):
            raise ValueError(
                f"{_show(value)} is not a Mini App short name (3 to 30 letters, digits or _,"
                " as given to @BotFather's /newapp)"
            )
        return value


class ChatSettings(_Strict):
    id: int
    name: str
    kind: ChatKind
    country: Country
    # a group reads one language, or two (every message in both: a Belgian group in fr and nl)
    languages: list[Literal["en", "fr", "nl"]]
    agency: str | None = None
    timezone: str | None = None

    @field_validator("id")
    @classmethod
    def _group_id(cls, value: int) -> int:
        if value >= 0:
            raise ValueError(
                f"{value} is not a group's id (a group's id is negative, like -1001234567890;"
                " type /start in the group and the bot answers with it)"
            )
        return value

    @field_validator("languages")
    @classmethod
    def _one_or_two(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError('one or two languages, like ["fr"] or ["fr", "nl"]')
        if len(set(value)) < len(value):
            raise ValueError(f"{_show(value)} names a language twice")
        if len(value) > 2:
            raise ValueError(
                f"a group reads one or two languages (every message is written in each),"
                f" not {len(value)}: {_show(value)}"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            I18nSettings._known_zone(value)
        return value


class PersonSettings(_Strict):
    id: int
    name: str
    roles: list[Literal["admin", "commander", "liaison", "spokesperson"]] = []
    country: Country | None = None
    agency: str | None = None
    language: Literal["en", "fr", "nl"] | None = None
    username: str | None = None

    @field_validator("id")
    @classmethod
    def _user_id(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(
                f"{value} is not a person's id (a Telegram user id is a positive number)"
            )
        return value


class Settings(_Strict):
    """Each key checked alone. What ties keys together (the chats named elsewhere are
    registered, ids are unique, agency chats name their agency) is checked by parse_settings
    on the file's data, so that a wrong key elsewhere does not hide it: build settings with
    parse_settings or read_config."""

    telegram: TelegramSettings = TelegramSettings()
    webhook: WebhookSettings = WebhookSettings()
    storage: StorageSettings = StorageSettings()
    instance: Annotated[InstanceSettings, Field(default_factory=InstanceSettings)]
    i18n: I18nSettings = I18nSettings()
    cards: CardSettings = CardSettings()
    alerts: AlertSettings = AlertSettings()
    media: MediaSettings = MediaSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    roster: RosterSettings = RosterSettings()
    requests: RequestSettings = RequestSettings()
    escalation: EscalationSettings = EscalationSettings()
    sites: SitesSettings = SitesSettings()
    board: BoardSettings = BoardSettings()
    have: HaveSettings = HaveSettings()
    chats: list[ChatSettings] = []
    people: list[PersonSettings] = []

    @model_validator(mode="before")
    @classmethod
    def _offers_know_staleness(cls, data: Any) -> Any:
        """[roster] stale_after_hours also marks stale facilities in offers."""
        if not isinstance(data, dict):
            return data
        roster, requests = data.get("roster"), data.get("requests", {})
        hours = roster.get("stale_after_hours") if isinstance(roster, dict) else None
        if (
            isinstance(hours, int | float)
            and not isinstance(hours, bool)
            and hours > 0
            and isinstance(requests, dict)
        ):
            return {**data, "requests": {**requests, "stale_after_hours": hours}}
        return data

    @property
    def token(self) -> str:
        assert self.telegram.token is not None
        return self.telegram.token

    @property
    def web_address(self) -> tuple[str, int]:
        """Where the one web server listens: [webhook] listen and port in webhook mode (it
        serves the board too), [board] listen and port otherwise."""
        if self.telegram.mode is Mode.WEBHOOK:
            return self.webhook.listen, self.webhook.port
        return self.board.listen, self.board.port

    @property
    def board_url(self) -> str:
        """Where browsers reach the server: [board] public_url, else the listening address."""
        if self.board.public_url:
            return self.board.public_url
        listen, port = self.web_address
        host = f"[{listen}]" if ":" in listen else listen
        return f"http://{host}:{port}"


NO_TOKEN_HELP = f"""\
No Telegram bot token is configured.
  - Create a bot with @BotFather in Telegram (/newbot) and copy the token it gives you.
  - Put it in config.toml under [telegram] token = "...", or export {TOKEN_ENV}=...
  - Or, with no token at all, watch a scripted cross-border incident: python -m bot demo"""


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    # one line each, like the problems: what may be meant but looks wrong
    warnings: list[str]


Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class _Problem:
    loc: Loc  # where in the data: ("chats", 2, "id")
    text: str


def parse_settings(data: dict[str, Any], env: dict[str, str] | None = None) -> Settings:
    """Validate raw TOML data; the environment's token, if any, wins over the file's."""
    return _check(data, env, require_token=False).settings


def read_config(
    path: Path,
    env: dict[str, str] | None = None,
    require_token: bool = True,
    missing_ok: bool = False,
) -> LoadedConfig:
    """Read and validate `path`: the settings and the warnings, or `ConfigError` with every
    problem. With `missing_ok`, a missing file means all defaults (the bot then only tells
    each chat its id, which is how an admin starts registering them)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not missing_ok:
            raise ConfigError(
                [f"{path}: no such file (copy config.example.toml to start)"]
            ) from None
        raw = ""
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError([f"{path}: cannot be read ({reason})"]) from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML ({exc})"]) from None
    return _check(data, env, require_token, source=str(path), text=raw)


def load_settings(
    path: Path,
    env: dict[str, str] | None = None,
    require_token: bool = True,
    missing_ok: bool = False,
) -> Settings:
    """`read_config`'s settings, warnings aside."""
    return read_config(path, env, require_token, missing_ok).settings


def roster_warnings(settings: Settings, units_per_agency: Mapping[str, int]) -> list[str]:
    """One line per agency of the roster (agency -> its units) that no agency chat names:
    its units are never asked, nobody is told about them."""
    served = {fold(chat.agency) for chat in settings.chats if _agency_chat(chat)}
    spellings: dict[str, dict[str, int]] = {}
    for agency, count in units_per_agency.items():
        spellings.setdefault(fold(agency), {})[agency] = count
    lines = []
    for key, counts in sorted(spellings.items()):
        if key in served:
            continue
        name = max(sorted(counts), key=counts.__getitem__)  # the most frequent spelling
        total = sum(counts.values())
        lines.append(
            f"agency {_show(name)} has {total} unit{'s' if total != 1 else ''} in the roster"
            f" but no agency chat: they are never asked (add a [[chats]] entry with kind ="
            f' "agency", agency = {_show(name)})'
        )
    return lines


def _agency_chat(chat: ChatSettings) -> bool:
    return chat.kind is ChatKind.AGENCY and bool(chat.agency and fold(chat.agency))


# ---- checking --------------------------------------------------------------------------------


def _check(
    data: dict[str, Any],
    env: dict[str, str] | None,
    require_token: bool,
    source: str | None = None,
    text: str | None = None,
) -> LoadedConfig:
    env = dict(os.environ) if env is None else env
    token = env.get(TOKEN_ENV)
    if token:
        telegram = data.get("telegram")
        data = {
            **data,
            "telegram": {**(telegram if isinstance(telegram, dict) else {}), "token": token},
        }
    try:
        settings: Settings | None = Settings.model_validate(data)
        errors: list[_Problem] = []
    except ValidationError as exc:
        settings = None
        errors = [_explained(err) for err in exc.errors()]
    tied, warned = _cross_check(data)
    lines = _line_index(text) if text is not None else {}
    problems = _described(errors + tied, data, source, lines)
    telegram = data.get("telegram")
    if require_token and not (isinstance(telegram, dict) and telegram.get("token")):
        problems.extend(NO_TOKEN_HELP.splitlines())
    if problems:
        raise ConfigError(problems)
    assert settings is not None
    return LoadedConfig(settings, _described(warned, data, source, lines))


def _cross_check(data: dict[str, Any]) -> tuple[list[_Problem], list[_Problem]]:
    """What ties entries together, read leniently from the raw data (what is malformed is
    already reported): errors, then warnings."""
    errors: list[_Problem] = []
    warnings: list[_Problem] = []
    chats = _entries(data, "chats")
    first: dict[int, int] = {}
    for i, chat in chats:
        chat_id = chat.get("id")
        if _is_id(chat_id):
            if chat_id in first:
                also = _entry_key(data, ("chats", first[chat_id]))
                errors.append(
                    _Problem(("chats", i, "id"), f"chat {chat_id} is listed twice (also {also})")
                )
            else:
                first[chat_id] = i
        agency = chat.get("agency")
        if chat.get("kind") == "agency" and not (isinstance(agency, str) and fold(agency)):
            errors.append(
                _Problem(
                    ("chats", i, "agency"),
                    'missing: an agency chat names its agency as the roster does (agency = "…");'
                    " the offers for that agency's units are sent to it",
                )
            )
    seen: dict[int, int] = {}
    for i, person in _entries(data, "people"):
        person_id = person.get("id")
        if _is_id(person_id):
            if person_id in seen:
                also = _entry_key(data, ("people", seen[person_id]))
                errors.append(
                    _Problem(
                        ("people", i, "id"), f"person {person_id} is listed twice (also {also})"
                    )
                )
            else:
                seen[person_id] = i
    referred: list[tuple[Loc, object]] = []
    alerts = data.get("alerts")
    if isinstance(alerts, dict):
        for key in ("chats", "exclude"):
            referred.extend((("alerts", key), chat_id) for chat_id in _listed(alerts.get(key)))
    escalation = data.get("escalation")
    levels = escalation.get("chats") if isinstance(escalation, dict) else None
    if isinstance(levels, dict):
        for level, ids in sorted(levels.items()):
            referred.extend((("escalation", "chats", level), chat_id) for chat_id in _listed(ids))
    for loc, chat_id in referred:
        if _is_id(chat_id) and chat_id not in first:
            errors.append(_Problem(loc, f"chat {chat_id} is not among the [[chats]]"))
    telegram, webhook = data.get("telegram"), data.get("webhook")
    if (
        isinstance(telegram, dict)
        and telegram.get("mode") == Mode.WEBHOOK
        and not (isinstance(webhook, dict) and webhook.get("url"))
    ):
        errors.append(_Problem(("webhook", "url"), 'required when telegram.mode is "webhook"'))
    agencies: dict[str, str] = {}
    for _, chat in chats:
        agency = chat.get("agency")
        if chat.get("kind") == "agency" and isinstance(agency, str) and fold(agency):
            agencies.setdefault(fold(agency), agency)
    for i, person in _entries(data, "people"):
        agency = person.get("agency")
        if isinstance(agency, str) and fold(agency) and fold(agency) not in agencies:
            near = difflib.get_close_matches(fold(agency), agencies, n=1, cutoff=0.7)
            hint = f" (did you mean {_show(agencies[near[0]])}?)" if near else ""
            warnings.append(
                _Problem(
                    ("people", i, "agency"),
                    f'no [[chats]] entry of kind "agency" has agency = {_show(agency)}{hint}',
                )
            )
    storage = data.get("storage")
    if isinstance(storage, dict) and isinstance(storage.get("backup_every"), str):
        path, folder = storage.get("path", "passerelle.db"), storage.get("backup_dir", "")
        if storage["backup_every"] and storage.get("url"):
            errors.append(
                _Problem(
                    ("storage", "backup_every"),
                    "the bot backs up only its SQLite file; on PostgreSQL ([storage] url) use"
                    " pg_dump or base backups (README, Backups)",
                )
            )
        elif storage["backup_every"] and isinstance(path, str) and isinstance(folder, str):
            problem = folder_problem(backup_folder(path, folder))
            if problem is not None:
                errors.append(
                    _Problem(
                        ("storage", "backup_dir"),
                        f"backups cannot be written there: {problem}",
                    )
                )
    board = data.get("board")
    if isinstance(board, dict) and board.get("enabled", True) is not False:
        public_url = board.get("public_url")
        if isinstance(public_url, str) and public_url.startswith("http://"):
            warnings.append(
                _Problem(
                    ("board", "public_url"),
                    f"{_show(public_url)} is plain http: fine for a local test, but Telegram"
                    " opens a Mini App (and its web_app buttons) only from an https:// address",
                )
            )
        if board.get("app_name") and not public_url:
            warnings.append(
                _Problem(
                    ("board", "app_name"),
                    "a Mini App needs public_url: the https:// address registered with"
                    " @BotFather's /newapp (without it the board is only reachable locally)",
                )
            )
    return errors, warnings


def _entries(data: Mapping[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    items = data.get(key)
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


def _listed(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _is_id(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# ---- saying it -------------------------------------------------------------------------------


def _explained(err: Any) -> _Problem:
    """A pydantic error in words an admin reads: no regular expressions, no 'Input'."""
    loc: Loc = tuple(part for part in err["loc"] if part != "[key]")
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    expected = str(ctx.get("expected", "")).replace("'", '"')
    top = loc[0] if len(loc) == 1 else None
    if kind == "extra_forbidden":
        near = difflib.get_close_matches(str(loc[-1]), _keys_at(loc[:-1]), n=1)
        text = "unknown key" + (f" (did you mean {near[0]}?)" if near else "")
    elif kind == "missing":
        text = "missing"
    elif kind == "value_error":
        text = str(err["msg"]).removeprefix("Value error, ")
    elif kind in ("literal_error", "enum"):
        text = f"should be {expected}, not {_show(value)}"
    elif kind == "string_type":
        text = f"should be text in quotes, not {_show(value)}"
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        text = f"should be a whole number, not {_show(value)}"
    elif kind in ("float_type", "float_parsing", "finite_number"):
        text = f"should be a number, not {_show(value)}"
    elif kind in ("bool_type", "bool_parsing"):
        text = f"should be true or false, not {_show(value)}"
    elif kind == "list_type" and top in ("chats", "people"):
        text = f"should be entries, each under its own [[{top}]] header"
    elif kind == "list_type":
        text = f"should be a list in brackets, like [1, 2], not {_show(value)}"
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        text = f"should be a table ([section] or {{ key = value }}), not {_show(value)}"
    elif kind == "greater_than":
        text = f"should be more than {ctx['gt']}, not {_show(value)}"
    elif kind == "greater_than_equal":
        text = f"should be {ctx['ge']} or more, not {_show(value)}"
    elif kind == "less_than":
        text = f"should be less than {ctx['lt']}, not {_show(value)}"
    elif kind == "less_than_equal":
        text = f"should be {ctx['le']} or less, not {_show(value)}"
    else:
        text = str(err["msg"]).replace("Input should", "should")
    return _Problem(loc, text)


def _keys_at(loc: Loc) -> list[str]:
    """The keys the section or entry at `loc` may have (for 'did you mean')."""
    model: Any = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        fields = (
            model.model_fields if isinstance(model, type) and issubclass(model, BaseModel) else {}
        )
        if part not in fields:
            return []
        model = fields[part].annotation
        while get_origin(model) in (list, Union, UnionType):
            model = next(arg for arg in get_args(model) if arg is not type(None))
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _described(
    problems: Iterable[_Problem], data: dict[str, Any], source: str | None, lines: Mapping[Loc, int]
) -> list[str]:
    """`source:line: key: text`, in the order of the file (what has no line last)."""
    located = []
    for problem in problems:
        line = _line_of(lines, problem.loc)
        where = f"{source}:{line}: " if source and line else (f"{source}: " if source else "")
        located.append((line or 0, f"{where}{_entry_key(data, problem.loc)}: {problem.text}"))
    located.sort(key=lambda item: (item[0] == 0, item[0]))
    return [text for _, text in located]


def _entry_key(data: dict[str, Any], loc: Loc) -> str:
    """`chats "Zone Fluvia" (3rd) id` rather than `chats[2].id`. The index of a plain value
    in a list (a language, a chat id) is left out: the text shows the value."""
    key = ""
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            if isinstance(node, dict):
                name = node.get("name")
                named = f"{_show(name)} " if isinstance(name, str) and name.strip() else ""
                key += f" {named}({_ordinal(part + 1)})"
            continue
        node = node.get(part) if isinstance(node, dict) else None
        key += (" " if key.endswith(")") else "." if key else "") + part
    return key or "(top level)"


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _show(value: object) -> str:
    """A value as it is written in TOML (near enough), shortened."""
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return shown if len(shown) <= 60 else shown[:59] + "…"


# ---- line numbers: tomllib gives none; a small scan of the text finds tables and keys --------

_PART = r"""[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'"""
_DOTTED = rf"(?:{_PART})(?:\s*\.\s*(?:{_PART}))*"
_HEADER = re.compile(rf"\s*(\[\[?)\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(rf"\s*({_DOTTED})\s*=")


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in re.findall(_PART, dotted))


def _line_index(text: str) -> dict[Loc, int]:
    """The line of every table (`[[chats]]` the n-th: ("chats", n)) and of every key in it
    (("chats", n, "id")). Lines inside multi-line strings are skipped."""
    lines: dict[Loc, int] = {}
    table: Loc = ()
    arrays: dict[Loc, int] = {}
    quote: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if quote is not None:
            if line.count(quote) % 2:
                quote = None
            continue
        header = _HEADER.match(line)
        key = None if header else _KEY.match(line)
        if header:
            path = _parts(header.group(2))
            if header.group(1) == "[[":
                arrays[path] = arrays.get(path, -1) + 1
                table = (*path, arrays[path])
            else:
                table = path
            lines.setdefault(table, number)
        elif key:
            lines.setdefault((*table, *_parts(key.group(1))), number)
        quote = next((q for q in ('"""', "'''") if line.count(q) % 2), None)
    return lines


def _line_of(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    """The line of `loc`, or of the nearest table or key around it (a missing key: its
    entry's header)."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
