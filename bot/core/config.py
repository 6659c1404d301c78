"""Settings read from a TOML file, validated with pydantic; secrets may come from the environment.

A bad file never produces a traceback: `load_settings` raises `ConfigError`, whose `problems`
are one line per problem, each naming its key.
"""

from __future__ import annotations

import os
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.core.models import ChatKind, Country
from bot.core.vocabulary import VALID_KEYS

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
    base_file_url: str | None = None
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


class WebhookSettings(_Strict):
    listen: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8443
    url: str | None = None
    url_path: str = "telegram"
    secret_token: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,256}$")


class StorageSettings(_Strict):
    path: str = "passerelle.db"


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


class RosterSettings(_Strict):
    # a unit not confirmed for this long is marked stale in /roster
    stale_after_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 24.0
    # the daily roll-call in every agency chat, at this local time (HH:MM); "" for none
    rollcall_time: str = Field(default="08:00", pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9])?$")


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


class ChatSettings(_Strict):
    id: int
    name: str
    kind: ChatKind
    country: Country
    languages: list[Literal["en", "fr", "nl"]] = Field(min_length=1)
    agency: str | None = None
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            I18nSettings._known_zone(value)
        return value


class PersonSettings(_Strict):
    id: Annotated[int, Field(gt=0)]
    name: str
    roles: list[Literal["admin", "commander", "liaison", "spokesperson"]] = []
    country: Country | None = None
    agency: str | None = None
    language: Literal["en", "fr", "nl"] | None = None
    username: str | None = None


class Settings(_Strict):
    telegram: TelegramSettings = TelegramSettings()
    webhook: WebhookSettings = WebhookSettings()
    storage: StorageSettings = StorageSettings()
    i18n: I18nSettings = I18nSettings()
    cards: CardSettings = CardSettings()
    alerts: AlertSettings = AlertSettings()
    media: MediaSettings = MediaSettings()
    roster: RosterSettings = RosterSettings()
    requests: RequestSettings = RequestSettings()
    escalation: EscalationSettings = EscalationSettings()
    sites: SitesSettings = SitesSettings()
    chats: list[ChatSettings] = []
    people: list[PersonSettings] = []

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        problems: list[str] = []
        seen: set[int] = set()
        for i, chat in enumerate(self.chats):
            if chat.id in seen:
                problems.append(f"chats[{i}].id: chat {chat.id} is listed twice")
            seen.add(chat.id)
        seen = set()
        for i, person in enumerate(self.people):
            if person.id in seen:
                problems.append(f"people[{i}].id: person {person.id} is listed twice")
            seen.add(person.id)
        chat_ids = {chat.id for chat in self.chats}
        for key, ids in sorted(self.escalation.chats.items()):
            for chat_id in ids:
                if chat_id not in chat_ids:
                    problems.append(
                        f"escalation.chats.{key}: chat {chat_id} is not among the [[chats]]"
                    )
        if self.telegram.mode is Mode.WEBHOOK and not self.webhook.url:
            problems.append("webhook.url: required when telegram.mode is 'webhook'")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def token(self) -> str:
        assert self.telegram.token is not None
        return self.telegram.token


NO_TOKEN_HELP = f"""\
No Telegram bot token is configured.
  - Create a bot with @BotFather in Telegram (/newbot) and copy the token it gives you.
  - Put it in config.toml under [telegram] token = "...", or export {TOKEN_ENV}=...
  - Or, with no token at all, watch a scripted cross-border incident: python -m bot demo"""


def _format_errors(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        key = ""
        for part in err["loc"]:
            key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
            # model-level problems already carry their own keys
            if not key:
                lines.extend(msg.split("; "))
                continue
        lines.append(f"{key or '(top level)'}: {msg}")
    return lines


def parse_settings(data: dict[str, Any], env: dict[str, str] | None = None) -> Settings:
    """Validate raw TOML data; the environment's token, if any, wins over the file's."""
    env = dict(os.environ) if env is None else env
    token = env.get(TOKEN_ENV)
    if token:
        telegram = data.get("telegram")
        data = {
            **data,
            "telegram": {**(telegram if isinstance(telegram, dict) else {}), "token": token},
        }
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None


def load_settings(
    path: Path,
    env: dict[str, str] | None = None,
    require_token: bool = True,
    missing_ok: bool = False,
) -> Settings:
    """Read and validate `path`. With `missing_ok`, a missing file means all defaults (the
    bot then only tells each chat its id, which is how an admin starts registering them)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not missing_ok:
            raise ConfigError(
                [f"{path}: no such file (copy config.example.toml to start)"]
            ) from None
        raw = ""
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror})"]) from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML ({exc})"]) from None
    settings = parse_settings(data, env)
    if require_token and not settings.telegram.token:
        raise ConfigError(NO_TOKEN_HELP.splitlines())
    return settings
