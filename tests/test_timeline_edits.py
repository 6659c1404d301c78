"""An edited message that is on a timeline: the entry follows its new wording, marked as edited,
and keeps every earlier one (service, rendering, report)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.core import directory
from bot.core.db import Database
from bot.core.errors import UserError
from bot.core.i18n import translator
from bot.core.models import Author, PersonRef, TimelineEntry, TimelineKind
from bot.incidents import service as incidents
from bot.render.report import render_report
from bot.render.timeline import timeline_line
from bot.reports import report as reports
from handlers.edits import edited_words
from tests.conftest import COMMANDER, OPS_BILINGUAL, RESPONDER
from tests.units import once

BOSS = Author(COMMANDER, "Marc Delattre", "mdelattre")
JAN = Author(RESPONDER, "Jan Peeters", None)
FR = translator("fr")
NL = translator("nl")


async def _incident_with_note(db: Database, message_id: int = 500) -> int:
    chat = await directory.get_chat(db, OPS_BILINGUAL)
    assert chat is not None
    incident = await once(
        db, incidents.declare, chat=chat, title="Fuite de chlore", author=BOSS, exercise=False
    )
    await once(
        db,
        incidents.add_note,
        ref=incident.ref,
        text="2 blessés légers",
        author=JAN,
        chat_id=OPS_BILINGUAL,
        message_id=message_id,
    )
    return incident.ref


async def _edit(
    db: Database, text: str | None, at: datetime, *, message_id: int = 500, by: Author = JAN
) -> object:
    return await once(
        db,
        incidents.follow_edit,
        chat_id=OPS_BILINGUAL,
        message_id=message_id,
        author=by,
        text=text,
        edited_at=at,
    )


async def test_an_edit_replaces_the_wording_and_keeps_the_earlier_one(db: Database) -> None:
    ref = await _incident_with_note(db)
    note = (await incidents.timeline(db, ref, last=1))[0]
    first = note.at + timedelta(minutes=3)
    second = note.at + timedelta(minutes=9)
    assert await _edit(db, "2 blessés graves", first) is not None
    assert await _edit(db, "3 blessés graves, 1 incarcéré", second) is not None
    entries = await incidents.timeline(db, ref, last=10)
    assert [e.kind for e in entries] == [TimelineKind.DECLARED, TimelineKind.NOTE]
    entry = entries[-1]
    assert entry.text == "3 blessés graves, 1 incarcéré"
    assert entry.edited_at == second
    assert [(r.text, r.written_at, r.replaced_at) for r in entry.earlier] == [
        ("2 blessés légers", note.at, first),
        ("2 blessés graves", first, second),
    ]
    # the whole timeline carries the same
    whole = await incidents.timeline(db, ref, last=1000)
    assert whole[-1].earlier == entry.earlier


async def test_what_an_edit_does_not_change(db: Database) -> None:
    ref = await _incident_with_note(db)
    note = (await incidents.timeline(db, ref, last=1))[0]
    later = note.at + timedelta(minutes=5)
    # a message on no timeline, or someone else's (Telegram lets only the author edit)
    assert await _edit(db, "autre chose", later, message_id=999) is None
    assert await _edit(db, "autre chose", later, by=BOSS) is None
    # the same words (a formatting edit, or an edit already followed)
    assert await _edit(db, "2 blessés légers", later) is None
    assert await _edit(db, "2 blessés graves", later) is not None
    assert await _edit(db, "2 blessés graves", later) is None
    # an edit older than one already followed
    assert await _edit(db, "1 blessé", later - timedelta(minutes=1)) is None
    # bad input: refused, nothing changed
    with pytest.raises(UserError):
        await _edit(db, "   ", later + timedelta(minutes=1))
    with pytest.raises(UserError):
        await _edit(db, "x" * 2001, later + timedelta(minutes=1))
    entry = (await incidents.timeline(db, ref, last=1))[0]
    assert entry.text == "2 blessés graves" and len(entry.earlier) == 1
    # a closed incident's record is not rewritten
    await once(db, incidents.close, ref=ref, author=BOSS, chat_id=OPS_BILINGUAL)
    with pytest.raises(UserError):
        await _edit(db, "3 blessés", later + timedelta(minutes=2))
    async with db.read() as tx:
        count = await tx.one("SELECT COUNT(*) AS n FROM timeline_revisions")
    assert count is not None and count["n"] == 1


async def test_the_entry_reads_as_edited_and_the_report_keeps_the_earlier_wording(
    db: Database,
) -> None:
    ref = await _incident_with_note(db)
    note = (await incidents.timeline(db, ref, last=1))[0]
    same_day = note.at + timedelta(minutes=4)
    await _edit(db, "2 blessés <graves>", same_day)
    entry = (await incidents.timeline(db, ref, last=1))[0]
    line = timeline_line(FR, entry, "Europe/Brussels")
    assert "2 blessés &lt;graves&gt;" in line
    assert FR.gettext("edited at {time}").format(time=FR.time(same_day, "Europe/Brussels")) in line
    assert "légers" not in line
    report = await reports.collect(db, ref)
    assert report is not None
    html = render_report(report, ["fr", "nl"], "Europe/Brussels")
    written = FR.datetime(note.at, "Europe/Brussels", "short")
    assert (
        FR.gettext("earlier wording, written {time}: “{text}”").format(
            time=written, text="2 blessés légers"
        )
        in html
    )
    assert NL.gettext("edited at {time}").format(time=NL.time(same_day, "Europe/Brussels")) in html
    # the JSON export carries the entry's earlier wordings
    exported = json.loads(reports.to_json(report))
    edited = exported["timeline"][-1]
    assert edited["text"] == "2 blessés <graves>" and edited["edited_at"]
    assert [r["text"] for r in edited["earlier"]] == ["2 blessés légers"]


def test_an_edit_on_another_day_gives_the_date() -> None:
    at = datetime(2026, 11, 30, 22, 50, tzinfo=UTC)
    entry = TimelineEntry(
        id=1,
        incident_ref=1,
        kind=TimelineKind.NOTE,
        author=PersonRef(id=1, name="Jan"),
        chat_id=1,
        text="crue",
        field=None,
        lat=None,
        lon=None,
        at=at,
        edited_at=at + timedelta(hours=2),
    )
    line = timeline_line(NL, entry, "Europe/Brussels")
    when = NL.datetime(at + timedelta(hours=2), "Europe/Brussels")
    assert NL.gettext("edited on {date}").format(date=when) in line


def test_the_words_of_an_edited_log_command() -> None:
    assert edited_words("/log #12 trois blessés") == "trois blessés"
    assert edited_words("/note@passerelle_test_bot trois blessés") == "trois blessés"
    assert edited_words("/log") == ""
    assert edited_words("Fumée #2 visible") == "Fumée #2 visible"
