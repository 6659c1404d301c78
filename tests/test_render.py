"""Rendering is pure: the same incident in en, fr, nl and bilingual."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.html import split_message
from bot.core.i18n import BLOCK_SEPARATOR, translator
from bot.core.models import (
    Country,
    Incident,
    IncidentStatus,
    PersonRef,
    Severity,
    TimelineEntry,
    TimelineKind,
)
from bot.render.card import render_card
from bot.render.keyboards import card_keyboard, parse_card_press, severity_data, status_data
from bot.render.status import render_status
from bot.simulator import parse_html

AT = datetime(2026, 11, 27, 22, 4, tzinfo=UTC)  # 23:04 in Brussels


def _incident(**changes: object) -> Incident:
    base = Incident(
        ref=12,
        chat_id=-1,
        title="Fuite de chlore <gare> & triage",
        type="NRBC",
        severity=Severity.SEVERE,
        status=IncidentStatus.ACTIVE,
        location_text="Gare de triage, Tournai",
        lat=50.614,
        lon=3.406,
        country=Country.BE,
        commander=PersonRef(id=1, name="Marc <Delattre>"),
        spokesperson=None,
        liaison=None,
        exercise=False,
        declared_at=AT,
        updated_at=AT,
        closed_at=None,
    )
    return base.model_copy(update=changes)


def _entries() -> list[TimelineEntry]:
    author = PersonRef(id=5, name="Jan Peeters")
    return [
        TimelineEntry(
            id=1,
            incident_ref=12,
            kind=TimelineKind.NOTE,
            author=author,
            chat_id=-1,
            text="Nuage <b>jaune</b> & odeur",
            field=None,
            lat=None,
            lon=None,
            at=AT,
        ),
        TimelineEntry(
            id=2,
            incident_ref=12,
            kind=TimelineKind.SEVERITY,
            author=author,
            chat_id=-1,
            text="severe",
            field=None,
            lat=None,
            lon=None,
            at=AT,
        ),
    ]


@pytest.mark.parametrize("language", ["en", "fr", "nl"])
def test_card_in_each_language_is_valid_telegram_html(language: str) -> None:
    _ = translator(language).gettext
    html = render_card(_incident(), _entries(), [language], "Europe/Brussels")
    text, _entities = parse_html(html)  # raises if Telegram would refuse it
    assert "#12 Fuite de chlore <gare> & triage" in text
    assert "Marc <Delattre>" in text
    assert "Nuage <b>jaune</b> & odeur" in text
    assert _("Timeline") in text and _("severe") in text
    assert "23:04" in text  # shown in the chat's time zone, not UTC
    assert BLOCK_SEPARATOR.strip() not in text


def test_bilingual_card_has_the_french_then_the_dutch_block() -> None:
    html = render_card(_incident(), _entries(), ["fr", "nl"], "Europe/Brussels")
    french, dutch = html.split(BLOCK_SEPARATOR)
    assert translator("fr").gettext("Timeline") in french
    assert translator("nl").gettext("Timeline") in dutch
    assert translator("nl").gettext("Timeline") not in french


def test_exercise_is_marked_in_every_language() -> None:
    html = render_card(_incident(exercise=True), [], ["fr", "nl"], "Europe/Brussels")
    assert "EXERCICE" in html and "OEFENING" in html
    assert "EXERCISE" in render_card(_incident(exercise=True), [], ["en"], "Europe/Brussels")


def test_a_long_timeline_never_breaks_the_card() -> None:
    note = TimelineEntry(
        id=3,
        incident_ref=12,
        kind=TimelineKind.NOTE,
        author=None,
        chat_id=-1,
        text="é" * 2000,
        field=None,
        lat=None,
        lon=None,
        at=AT,
    )
    html = render_card(_incident(title="T" * 200), [note] * 5, ["fr", "nl"], "Europe/Brussels")
    text, _ = parse_html(html)
    assert len(text) <= 4096


def test_status_longer_than_a_message_is_split_between_lines() -> None:
    many = [_incident(ref=n, title=f"Incident {n} " + "x" * 150) for n in range(1, 60)]
    html = render_status(
        many, {n: _entries() for n in range(1, 60)}, ["fr", "nl"], "Europe/Brussels"
    )
    parts = split_message(html)
    assert len(parts) > 1
    for part in parts:
        text, _ = parse_html(part)  # every part is valid on its own: tags balanced
        assert len(text) <= 4096
    assert "Incident 59" in parts[-1] or any("Incident 59" in p for p in parts)


def test_status_with_nothing_open() -> None:
    html = render_status([], {}, ["nl"], "Europe/Brussels")
    assert translator("nl").gettext("No open incident.") in html


def test_keyboard_data_is_short_and_parsed_strictly() -> None:
    keyboard = card_keyboard(_incident(ref=123456789), ["fr", "nl"])
    assert keyboard is not None
    data = [b.callback_data for row in keyboard.inline_keyboard for b in row]
    assert all(isinstance(d, str) and len(d.encode()) <= 64 for d in data)
    assert status_data(123456789, IncidentStatus.ACTIVE) not in data  # already active
    press = parse_card_press(severity_data(7, Severity.MINOR))
    assert press is not None and press.ref == 7 and press.severity is Severity.MINOR
    for junk in [
        "",
        "i1",
        "i1:x:st:act",
        "i1:1:st:zzz",
        "i2:1:st:act",
        "i1:1:st:act:x",
        "i1:9999999999:st:act",
        "i1:-1:sv:1",
    ]:
        assert parse_card_press(junk) is None, junk
    assert card_keyboard(_incident(status=IncidentStatus.CLOSED), ["fr"]) is None
