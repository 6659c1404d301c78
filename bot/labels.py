"""The words for domain values, marked for translation, and reading them back in any language."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from bot.i18n import N_, translator
from bot.models import LANGUAGES, Assignment, IncidentField, IncidentStatus, Role, Severity

E = TypeVar("E", bound=StrEnum)

SEVERITY: Mapping[Severity, str] = {
    Severity.MINOR: N_("minor"),
    Severity.MODERATE: N_("moderate"),
    Severity.SEVERE: N_("severe"),
    Severity.EXTREME: N_("extreme"),
}

STATUS: Mapping[IncidentStatus, str] = {
    IncidentStatus.REPORTED: N_("reported"),
    IncidentStatus.ACTIVE: N_("active"),
    IncidentStatus.CONTAINED: N_("contained"),
    IncidentStatus.CLOSED: N_("closed"),
}

ROLE: Mapping[Role, str] = {
    Role.ADMIN: N_("admin"),
    Role.COMMANDER: N_("commander"),
    Role.LIAISON: N_("liaison officer"),
    Role.SPOKESPERSON: N_("spokesperson"),
    Role.RESPONDER: N_("responder"),
}

ASSIGNMENT: Mapping[Assignment, str] = {
    Assignment.COMMANDER: N_("commander"),
    Assignment.SPOKESPERSON: N_("spokesperson"),
    Assignment.LIAISON: N_("liaison officer"),
}

FIELD: Mapping[IncidentField, str] = {
    IncidentField.TITLE: N_("title"),
    IncidentField.TYPE: N_("type"),
    IncidentField.SEVERITY: N_("severity"),
    IncidentField.STATUS: N_("status"),
    IncidentField.LOCATION: N_("location"),
}

# Words responders also type that are not the labels themselves.
_SYNONYMS: Mapping[str, str] = {
    "liaison": "liaison",
    "liaisonofficer": "liaison",
    "officierdeliaison": "liaison",
    "verbindingsofficier": "liaison",
    "cos": "commander",
    "commandant": "commander",
    "commandantdesoperations": "commander",
    "operationeelcommandant": "commander",
    "dirpcops": "commander",
    "dircpops": "commander",
    "porteparole": "spokesperson",
    "dirinfo": "spokesperson",
    "lieu": "location",
    "adresse": "location",
    "titre": "title",
}


@functools.lru_cache(maxsize=8192)
def fold(word: str) -> str:
    """Lower case, no accents, no spaces or dashes: 'Sévère' == 'severe', 'porte-parole'.

    Cached: agency names are folded once per unit and chat in every nearest-unit search."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if c.isalnum())


def parse(word: str, labels: Mapping[E, str]) -> E | None:
    """The value whose code or label, in any of our languages, is `word`."""
    wanted = fold(word)
    if not wanted:
        return None
    wanted = _SYNONYMS.get(wanted, wanted)
    for value, label in labels.items():
        if wanted == fold(value.value):
            return value
        for lang in LANGUAGES:
            if wanted == fold(translator(lang).gettext(label)):
                return value
    return None
