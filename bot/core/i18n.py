"""Translations: the gettext catalogs in locales/, a translator per language, and babel's
formatting of dates and times. A chat may read several languages at once (fr + nl)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.dates import get_timezone_location
from babel.lists import format_list
from babel.messages.pofile import read_po

from bot.core.models import LANGUAGES

LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
DOMAIN = "messages"
# Dates and numbers as a European reader of each language expects them.
_FORMAT_LOCALE = {"en": "en_GB", "fr": "fr_FR", "nl": "nl_BE"}
# Between the blocks of a message written for a bilingual chat.
BLOCK_SEPARATOR = "\n\n— — —\n\n"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


class Translator:
    """gettext for one language, from the .po file itself (no compiled .mo to keep in step)."""

    def __init__(self, language: str, messages: dict[str, str | tuple[str, ...]]) -> None:
        self.language = language
        self._messages = messages
        self.locale = Locale.parse(_FORMAT_LOCALE.get(language, language))

    def gettext(self, message: str) -> str:
        found = self._messages.get(message)
        return found if isinstance(found, str) and found else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        found = self._messages.get(singular)
        if isinstance(found, tuple) and all(found):
            # en, fr and nl have two forms, "one" and "other" (French counts 0 as "one")
            return found[0] if self.locale.plural_form(n) == "one" else found[-1]
        return singular if n == 1 else plural

    def join(self, items: Iterable[str], *, alternatives: bool = False) -> str:
        """Words as a list of this language: "a, b et c" (or, for alternatives, "a, b ou c")."""
        words = list(items)
        if alternatives:
            return format_list(words, style="or", locale=self.locale)
        return format_list(words, locale=self.locale)

    def datetime(self, moment: dt.datetime, timezone: str, fmt: str = "short") -> str:
        return _babel_datetime(moment, fmt, tzinfo=ZoneInfo(timezone), locale=self.locale)

    def time(self, moment: dt.datetime, timezone: str) -> str:
        return _babel_datetime(moment, "HH:mm", tzinfo=ZoneInfo(timezone), locale=self.locale)

    def day(self, moment: dt.datetime, timezone: str) -> str:
        """The day of a moment in that time zone, written out: "lundi 30 novembre 2026"."""
        return _babel_date(local_day(moment, timezone), "full", locale=self.locale)

    def zone_city(self, timezone: str) -> str:
        """The city a time zone is named after, as this language writes it (Bruxelles)."""
        return str(get_timezone_location(ZoneInfo(timezone), locale=self.locale, return_city=True))


def local_day(moment: dt.datetime, timezone: str) -> dt.date:
    """The calendar day a moment falls on in that time zone (a naive moment is UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZoneInfo(timezone)).date()


@cache
def translator(language: str) -> Translator:
    """The translator for one of en, fr, nl (anything else falls back to English)."""
    if language not in LANGUAGES:
        language = "en"
    path = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    messages: dict[str, str | tuple[str, ...]] = {}
    if path.exists():
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        for message in catalog:
            if not message.id or message.fuzzy:
                continue
            if isinstance(message.id, (tuple, list)):
                messages[str(message.id[0])] = tuple(str(s) for s in message.string or ())
            else:
                messages[str(message.id)] = str(message.string or "")
    return Translator(language, messages)


def normalize_language(code: str | None, default: str = "en") -> str:
    """Telegram's language_code ('fr-BE', 'nl') to one of ours."""
    if code:
        base = code.split("-")[0].split("_")[0].lower()
        if base in LANGUAGES:
            return base
    return default


def each_language(languages: Sequence[str], render: Callable[[Translator], str]) -> str:
    """Render once per language of the chat; a bilingual chat gets both blocks in one message."""
    return BLOCK_SEPARATOR.join(render(translator(lang)) for lang in languages)


def joined_labels(languages: Iterable[str], message: str) -> str:
    """A short label (a button) in every language of the chat, without repeats."""
    labels: list[str] = []
    for lang in languages:
        label = translator(lang).gettext(message)
        if label not in labels:
            labels.append(label)
    return " / ".join(labels)
