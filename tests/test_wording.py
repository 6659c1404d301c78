"""Words native readers stumbled on, kept out of the catalogs for good: one word per concept in
each language, the terms responders use, no English left in French or Dutch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.core.i18n import translator
from bot.core.models import Severity
from bot.core.vocabulary import SEVERITY, parse

LOCALES = Path(__file__).resolve().parent.parent / "locales"


def _translations(language: str) -> Iterator[tuple[str, str]]:
    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id[0] if isinstance(message.id, (tuple, list)) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            yield str(msgid), str(string)


# (pattern found in a translation, what to write instead)
AVOID = {
    "fr": [
        (r"\bAppel des moyens\b", "Pointage des moyens"),
        (r"Montée en puissance|monter en puissance", "passage à l'échelon supérieur"),
        (r"aux commandes", "direction des opérations : …"),
        (r"^Aucun\.$", "Néant."),
        (r"^(Du|Au)$", "Début / Fin"),
        (r"\bdiscussion\b", "groupe"),
        (r"\bconversations?\b(?! privée)", "groupe (conversation privée for a private chat)"),
        (r"\bchat\b", "groupe"),
        (r"\b1 engagés\b|\bengagés\.$", "an agreement that holds for any count"),
        (r"\bUtilisation :", "Syntaxe :"),
    ],
    "nl": [
        (r"persgesprek", "persgroepen"),
        (r"Appel van de eenheden", "Beschikbaarheidscontrole"),
        (r"in de plaats een", "in plaats daarvan"),
        (r"voor de pers.*voor de pers|persbericht.*voor de pers", "pers once"),
        (r"Gemeld op", "Geopend op"),
        (r"buiten dienst", "niet beschikbaar"),
        (r"rangeerstation", "vormingsstation"),
        (r"/set location|/wijzigen location", "/wijzigen locatie"),
        (r"\bgesprek(ken)?\b|groepschat|privéchat", "groep / privégesprek"),
        (r"\bchat\b", "groep"),
    ],
}


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_the_words_native_readers_asked_for(language: str) -> None:
    found = [
        f"{msgid!r}: {string!r} (write {instead})"
        for msgid, string in _translations(language)
        for pattern, instead in AVOID[language]
        if re.search(pattern, re.sub(r"\{\w+\}", "", string))
    ]
    assert found == []


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_no_english_sentence_is_left(language: str) -> None:
    english = re.compile(r"\b(the|and|with|of the|please|is not|by import|hazardous)\b")
    found = [
        f"{msgid!r}: {string!r}"
        for msgid, string in _translations(language)
        if english.search(re.sub(r"/\w+|\{\w+\}|<[^>]*>", "", string))
    ]
    assert found == []


def test_the_commander_is_a_commandant_not_a_command() -> None:
    # "command" names the incident's command as a party in the report's evaluation
    assert translator("nl").gettext("command") == "commandant"
    assert translator("fr").gettext("command") == "commandement"


def test_french_severities_agree_with_gravite_and_old_words_still_read() -> None:
    fr = translator("fr").gettext
    assert [fr(SEVERITY[s]) for s in Severity] == ["mineure", "modérée", "grave", "extrême"]
    for word, meant in (
        ("mineur", Severity.MINOR),
        ("mineure", Severity.MINOR),
        ("modéré", Severity.MODERATE),
        ("modérée", Severity.MODERATE),
        ("sévère", Severity.SEVERE),
        ("grave", Severity.SEVERE),
        ("ernstig", Severity.SEVERE),
    ):
        assert parse(word, SEVERITY) is meant, word
