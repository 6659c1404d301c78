"""The situation board's words: every label the page shows, marked for translation here so that
the catalogs cover them, and the table the page reads them from (`GET /board/api/strings`).

The page asks for its labels by their English msgid (`t("Timeline")`), and for the words of a
domain value by "<kind>:<value>" (`t("severity:severe")`, `t("offer:en_route")`), taken from
bot.core.vocabulary so that the board says what the card and the report say. Pure: no
database, no Telegram.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from typing import TypeVar

from bot.board.geo import MAP_WORDS
from bot.core.i18n import N_, translator
from bot.core.models import LANGUAGES
from bot.core.vocabulary import (
    HAZARD,
    KIND,
    MEDIA_KIND,
    OFFER_STATUS,
    REQUEST_STATUS,
    SEVERITY,
    STATUS,
    TYPE,
    UNIT_STATUS,
)

# The page's own labels, in the order the page shows them.
LABELS: tuple[str, ...] = (
    N_("Situation board"),
    N_("Skip to the content"),
    N_("Language"),
    N_("Large type"),
    N_("Live"),
    N_("Reconnecting…"),
    N_("Loading…"),
    N_("Times in {zone}"),
    N_("Open incidents"),
    N_("No open incident that you may see."),
    N_("All incidents"),
    N_("Incident #{ref}"),
    N_("exercise"),
    N_("Status"),
    N_("Severity"),
    N_("Location"),
    N_("Commander"),
    N_("Spokesperson"),
    N_("Liaison officer"),
    N_("Declared"),
    N_("Updated"),
    N_("Phase"),
    N_("Units"),
    N_("Requests"),
    N_("Alerts"),
    N_("Entries"),
    N_("Media"),
    N_("Map"),
    N_("Committed units"),
    N_("Nearest available units"),
    N_("Unit"),
    N_("Agency"),
    N_("Estimated arrival"),
    N_("{minutes} min"),
    N_("Committed"),
    N_("En route"),
    N_("On scene"),
    N_("Released"),
    N_("Distance"),
    N_("{km} km"),
    N_("Resource requests"),
    N_("Requested"),
    N_("{committed} of {quantity} committed"),
    N_("{acked} of {chats} groups acknowledged"),
    N_("Media statements"),
    N_("Sites at risk"),
    N_("planning radius {km} km"),
    N_("Timeline"),
    N_("none"),
    N_("Photo from the field"),
    N_("The board could not be loaded. It will try again."),
    N_("This incident does not exist, or you may not see it."),
    N_(
        "Open the board from Telegram: the Board button on an incident card, or /board in a "
        "private chat with the bot."
    ),
)

E = TypeVar("E", bound=StrEnum)


def _by_value(table: Mapping[E, str]) -> dict[str, str]:
    return {value.value: msgid for value, msgid in table.items()}


# The words of domain values, as "<kind>:<value>": the same tables as the card and the report.
_VALUES: Mapping[str, Mapping[str, str]] = {
    "severity": _by_value(SEVERITY),
    "status": _by_value(STATUS),
    "unit": _by_value(UNIT_STATUS),
    "offer": _by_value(OFFER_STATUS),
    "request": _by_value(REQUEST_STATUS),
    "type": _by_value(TYPE),
    "media": _by_value(MEDIA_KIND),
    "hazard": _by_value(HAZARD),
    "site": _by_value(KIND),
}


def _catalogue() -> dict[str, str]:
    """Every key the page may ask for, with its msgid."""
    # the map's words too: map.js is given the page's t() (bot/board/geo.py's MAP_WORDS)
    keys = {label: label for label in (*LABELS, *MAP_WORDS)}
    for kind, table in _VALUES.items():
        for value, msgid in table.items():
            keys[f"{kind}:{value}"] = msgid
    return keys


@cache
def page_strings(language: str) -> dict[str, str]:
    """The page's words in one language (en, fr or nl; anything else reads as English)."""
    gettext = translator(language if language in LANGUAGES else "en").gettext
    return {key: gettext(msgid) for key, msgid in _catalogue().items()}
