"""/timeline's pages, rendered: each fits one Telegram message in every language of the chat,
every entry is on exactly one page with its number, each day headed by its date."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.html import TELEGRAM_LIMIT, plain_length
from bot.core.models import (
    Country,
    Incident,
    IncidentStatus,
    PersonRef,
    TimelineEntry,
    TimelineKind,
)
from bot.render.keyboards import parse_timeline_press, timeline_data, timeline_keyboard
from bot.render.timeline_pages import PAGE_ENTRIES, paginate, render_timeline_page

START = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
INCIDENT = Incident(
    ref=7,
    chat_id=-1,
    title="Fuite de chlore " + "très longue " * 30,
    type=None,
    severity=None,
    status=IncidentStatus.ACTIVE,
    location_text=None,
    lat=None,
    lon=None,
    country=Country.BE,
    commander=None,
    spokesperson=None,
    liaison=None,
    exercise=False,
    declared_at=START,
    updated_at=START,
    closed_at=None,
)


def _entries(lengths: list[int]) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            id=100 + n,
            incident_ref=7,
            kind=TimelineKind.NOTE,
            author=PersonRef(id=5, name="Jan Peeters"),
            chat_id=-1,
            text=f"<{n}>" + "é&" * (length // 2),
            field=None,
            lat=None,
            lon=None,
            at=START + timedelta(minutes=37 * n),
        )
        for n, length in enumerate(lengths, start=1)
    ]


@pytest.mark.parametrize("languages", [["en"], ["fr"], ["fr", "nl"]])
def test_every_entry_once_every_page_fits(languages: list[str]) -> None:
    lengths = [10, 2000, 30, 1990, 700, 5, 1500, 1500, 1500, 12] * 4
    entries = _entries(lengths)
    pages = paginate(entries, languages, "Europe/Brussels")
    seen: list[int] = []
    for number in range(1, len(pages) + 1):
        page = render_timeline_page(INCIDENT, entries, languages, "Europe/Brussels", number)
        assert page.number == number and page.count == len(pages)
        assert plain_length(page.html) <= TELEGRAM_LIMIT
        block = page.html.split("— — —")[0]
        numbers = [int(n) for n in re.findall(r"^(\d+)\. ", block, re.MULTILINE)]
        assert len(numbers) <= PAGE_ENTRIES
        # a page starts with its day's heading, and each number is the entry's own
        assert block.splitlines()[1].startswith("📅 ")
        for n in numbers:
            assert f"&lt;{n}&gt;" in block
        seen.extend(numbers)
    assert seen == list(range(1, len(entries) + 1))


def test_short_entries_fill_a_page_and_days_are_headed() -> None:
    entries = _entries([20] * 30)  # every 37 minutes from 21:00 in Brussels: three days
    page = render_timeline_page(INCIDENT, entries, ["fr"], "Europe/Brussels", 1)
    assert page.count == 3
    assert page.html.count("📅 ") == 2  # Monday evening, then Tuesday after midnight
    assert "📅 <b>lundi 30 novembre 2026</b>" in page.html
    assert "📅 <b>mardi 1 décembre 2026</b>" in page.html
    # out of range: the nearest page
    assert render_timeline_page(INCIDENT, entries, ["fr"], "Europe/Brussels", 9).number == 3
    assert render_timeline_page(INCIDENT, entries, ["fr"], "Europe/Brussels", 0).number == 1


def test_the_page_buttons_codec() -> None:
    assert parse_timeline_press(timeline_data(12, 3)) == (12, 3)
    for junk in ("t1:12", "t1:12:0", "t1:a:1", "t1:1:1:1", "t2:1:1", "t1:1:1234567890", ""):
        assert parse_timeline_press(junk) is None, junk
    assert timeline_keyboard(1, 1, 1) is None
    middle = timeline_keyboard(1, 2, 3)
    assert middle is not None
    assert [b.callback_data for b in middle.inline_keyboard[0]] == ["t1:1:1", "t1:1:3"]
    assert all(len(timeline_data(999999999, 999999999).encode()) <= 64 for _ in range(1))
