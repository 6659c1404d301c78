"""End to end: /timeline pages through the whole timeline (◀ ▶, checked on every press), and the
days an incident spans are headed by their date in the card, in /timeline and in the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.i18n import translator
from bot.core.models import Author
from bot.incidents import service as incidents
from bot.render.keyboards import timeline_data
from bot.render.report import render_report
from bot.reports import report as reports
from bot.simulator import SimMessage
from tests.conftest import RESPONDER
from tests.harness import Harness
from tests.test_units_of_work import _handling
from tests.units import once

FR = translator("fr").gettext
NL = translator("nl").gettext
EN = translator("en").gettext
JAN = Author(RESPONDER, "Jan Peeters", None, "nl")


def _page(language: str, page: int, pages: int) -> str:
    return translator(language).gettext("page {page} of {pages}").format(page=page, pages=pages)


async def _notes(h: Harness, numbers: range) -> None:
    """Notes on #1's timeline, written as a reply would write them (each answered /log costs
    a second of the group's sending rate: many of them are written straight)."""
    for n in numbers:
        await once(
            h.runtime.db,
            incidents.add_note,
            ref=1,
            text=f"point de situation {n}",
            author=JAN,
            chat_id=h.ops.id,
            message_id=None,
        )


async def _declared_with_notes(h: Harness, notes: int) -> None:
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage de Tournai")
    await _notes(h, range(1, notes + 1))


def _timeline_message(h: Harness, chat: object) -> SimMessage:
    found = [
        m
        for m in h.sim.bot_messages(chat)  # type: ignore[arg-type]
        if (m.text or "").startswith("🗒")
    ]
    assert found, h.sim.dump()
    return found[-1]


async def test_timeline_pages_back_and_forth_in_both_languages(harness: Harness) -> None:
    h = harness
    await _declared_with_notes(h, 25)  # 26 entries: the declaration and 25 notes
    await h.say(h.responder, h.ops, "/tijdlijn")
    message = _timeline_message(h, h.ops)
    text = message.text or ""
    # a bilingual group reads both blocks, each whole
    assert (
        FR("Timeline of #{ref} {title}").format(
            ref=1, title="Fuite de chlore, gare de triage de Tournai"
        )
        in text
    )
    assert (
        NL("Timeline of #{ref} {title}").format(
            ref=1, title="Fuite de chlore, gare de triage de Tournai"
        )
        in text
    )
    assert _page("fr", 1, 3) in text and _page("nl", 1, 3) in text
    # numbered as in the whole timeline, the declaration first
    assert "1. " in text and "12. " in text and "13. " not in text
    assert text.count("point de situation 11") == 2
    assert message.buttons == [("2 ▶", timeline_data(1, 2))]

    await h.press(h.responder, h.ops, message, timeline_data(1, 2))
    pressed = h.sim.message(h.ops, message.message_id)
    text = pressed.text or ""
    assert pressed.edits == 1  # the same message, edited in place
    assert _page("fr", 2, 3) in text and "13. " in text and "24. " in text
    assert "point de situation 11\n" not in text
    assert pressed.buttons == [("◀ 1", timeline_data(1, 1)), ("3 ▶", timeline_data(1, 3))]

    await h.press(h.responder, h.ops, pressed, timeline_data(1, 3))
    text = h.sim.message(h.ops, message.message_id).text or ""
    assert _page("nl", 3, 3) in text and "26. " in text and "point de situation 25" in text
    assert h.sim.message(h.ops, message.message_id).buttons == [("◀ 2", timeline_data(1, 2))]

    await h.press(h.responder, h.ops, pressed, timeline_data(1, 2))
    assert _page("fr", 2, 3) in (h.sim.message(h.ops, message.message_id).text or "")


async def test_a_stale_or_forged_page_shows_the_timeline_as_it_is_now(harness: Harness) -> None:
    h = harness
    await _declared_with_notes(h, 15)  # 16 entries: two pages
    await h.say(h.commander, h.ops, "/timeline")
    message = _timeline_message(h, h.ops)
    assert _page("fr", 1, 2) in (message.text or "")
    # the timeline grows; an old message's page is shown as it reads now
    await _notes(h, range(16, 31))
    await h.press(h.commander, h.ops, message, timeline_data(1, 2))
    text = h.sim.message(h.ops, message.message_id).text or ""
    assert _page("fr", 2, 3) in text and "point de situation 20" in text
    # past the end: the last page
    await h.press(h.commander, h.ops, message, timeline_data(1, 99), forged=True)
    text = h.sim.message(h.ops, message.message_id).text or ""
    assert _page("fr", 3, 3) in text and "31. " in text
    edits = h.sim.message(h.ops, message.message_id).edits
    # data that is not a page at all, or a page pressed on a message that is none (the card)
    for target, junk in [(message, j) for j in ("t1:1:0", "t1:x:2", "t1:1", "t1:1:2:3")] + [
        (h.card(h.ops), "t1:1:2")
    ]:
        query = await h.press(h.commander, h.ops, target, junk, forged=True)
        assert h.sim.callback_answers[query].show_alert
        assert h.sim.callback_answers[query].text == "⛔ " + FR("This button is no longer valid.")
    assert h.sim.message(h.ops, message.message_id).edits == edits
    assert "🗒" not in (h.card(h.ops).text or "")


async def test_paging_is_checked_again_on_every_press(harness: Harness) -> None:
    h = harness
    await _declared_with_notes(h, 15)
    await h.say(h.commander_fr, h.ops_fr, "/incident Feu d'entrepôt à Roubaix")  # #2, Lille
    # a liaison officer follows the Tournai incident from the CODIS chat
    await h.say(h.liaison, h.liaison_fr, "/maincourante #1")
    message = _timeline_message(h, h.liaison_fr)
    assert _page("fr", 1, 2) in (message.text or "")
    # a responder in that chat may not page through it: refused, the page stays
    query = await h.press(h.responder, h.liaison_fr, message, timeline_data(1, 2))
    answer = h.sim.callback_answers[query]
    assert answer.show_alert and (answer.text or "").startswith("⛔")
    assert NL("liaison officer") in (answer.text or "")  # in the responder's own language
    assert h.sim.message(h.liaison_fr, message.message_id).edits == 0
    await h.press(h.liaison, h.liaison_fr, message, timeline_data(1, 2))
    assert _page("fr", 2, 2) in (h.sim.message(h.liaison_fr, message.message_id).text or "")
    # nor ask for it in private; and another group's incident is not reachable from a group
    dm = h.sim.private_chat(h.responder)
    await h.say(h.responder, dm, "/timeline #1")
    assert h.last_text(dm).startswith("⛔")
    await h.say(h.commander_fr, h.ops_fr, "/timeline #1")
    assert h.last_text(h.ops_fr) == "⛔ " + FR("There is no incident #{ref} here.").format(ref=1)
    # a button forged in the Lille group for Tournai's incident
    lille = _timeline_message(h, h.liaison_fr)
    await h.say(h.commander_fr, h.ops_fr, "/timeline")
    own = _timeline_message(h, h.ops_fr)
    assert "Roubaix" in (own.text or "") and lille.message_id != own.message_id
    query = await h.press(h.commander_fr, h.ops_fr, own, timeline_data(1, 2), forged=True)
    assert h.sim.callback_answers[query].text == "⛔ " + FR("This button is no longer valid.")
    assert "Roubaix" in (h.sim.message(h.ops_fr, own.message_id).text or "")


async def test_days_are_headed_by_their_date_across_midnight(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    # 23:50 in Brussels on Monday 30 November, then past midnight
    clock = [datetime(2026, 11, 30, 22, 50, tzinfo=UTC)]
    monkeypatch.setattr(incidents, "utcnow", lambda: clock[0])
    await h.say(h.commander, h.ops, "/incident Inondation, Comines-Warneton")
    await h.say(h.responder, h.ops, "/log la Lys déborde")
    card_before = h.card(h.ops).text or ""
    monday_fr = "lundi 30 novembre 2026"
    tuesday_fr = "mardi 1 décembre 2026"
    tuesday_nl = "dinsdag 1 december 2026"
    assert monday_fr not in card_before  # one day so far: no heading on the card
    clock[0] += timedelta(minutes=25)  # 00:15 on Tuesday
    await h.say(h.responder, h.ops, "/log évacuation de la rue du Moulin")
    await h.say(h.commander, h.ops, "/logboek pompen ter plaatse")
    card = h.card(h.ops).text or ""
    assert f"📅 {monday_fr}" in card and f"📅 {tuesday_fr}" in card and tuesday_nl in card
    assert card.index(monday_fr) < card.index("la Lys déborde") < card.index(tuesday_fr)
    assert card.index(tuesday_fr) < card.index("évacuation de la rue du Moulin")

    await h.say(h.commander, h.ops, "/timeline")
    text = _timeline_message(h, h.ops).text or ""
    assert text.count(f"📅 {monday_fr}") == 1 and text.count(f"📅 {tuesday_fr}") == 1
    assert text.index(tuesday_fr) < text.index("3. ") < text.index("4. ")
    assert "00:15" in text and "23:50" in text

    report = await reports.collect(h.runtime.db, 1)
    assert report is not None
    html = render_report(report, ["fr", "nl"], "Europe/Brussels")
    assert html.count(f"<h3>{monday_fr}</h3>") == 1
    assert html.count(f"<h3>{tuesday_fr}</h3>") == 1
    assert html.count(f"<h3>{tuesday_nl}</h3>") == 1
    # the numbering goes on across the days, as in /timeline
    assert '<ol start="3">' in html


async def test_timeline_in_english_and_of_a_closed_incident(harness: Harness) -> None:
    h = harness
    await h.say(h.admin, h.ops_en, "/incident Training: smoke in the tunnel")
    await h.say(h.admin, h.ops_en, "/close")
    await h.say(h.admin, h.ops_en, "/timeline")
    text = _timeline_message(h, h.ops_en).text or ""
    assert EN("Timeline of #{ref} {title}").format(
        ref=1, title="Training: smoke in the tunnel"
    ) in (text)
    assert EN("closed the incident") in text and _page("en", 1, 1) in text


# --- edits followed --------------------------------------------------------------------------


async def _revisions(h: Harness) -> list[tuple[int, str]]:
    async with h.runtime.db.read() as tx:
        rows = await tx.all("SELECT entry_id, text FROM timeline_revisions ORDER BY id")
    return [(row["entry_id"], row["text"]) for row in rows]


async def test_an_edited_reply_is_followed_and_its_first_wording_kept(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage de Tournai")
    card = h.card(h.ops)
    reply = await h.say(h.responder, h.ops, "2 blessés légers", reply_to=card)
    edits_before = h.card(h.ops).edits
    edited = await h.edit(h.responder, h.ops, reply, "2 blessés graves, évacués vers Tournai")
    assert edited.edit_date is not None
    when = datetime.fromtimestamp(edited.edit_date, UTC)
    text = h.card(h.ops).text or ""
    assert h.card(h.ops).edits > edits_before  # the card follows, in place
    assert text.count("2 blessés graves, évacués vers Tournai") == 2
    assert "2 blessés légers" not in text
    marks = [
        tr.gettext("edited at {time}").format(time=tr.time(when, "Europe/Brussels"))
        for tr in (translator("fr"), translator("nl"))
    ]
    assert all(f"(✏️ {mark})" in text for mark in marks), text
    assert await _revisions(h) == [(2, "2 blessés légers")]
    # Telegram sends the edit again: no second revision, the card is not edited again
    shown = h.card(h.ops).edits
    await h.redeliver(h.sim.last_update_id)
    assert await _revisions(h) == [(2, "2 blessés légers")]
    assert h.card(h.ops).edits == shown
    # edited again: both earlier wordings kept, in order
    await h.edit(h.responder, h.ops, reply, "3 blessés graves")
    assert await _revisions(h) == [
        (2, "2 blessés légers"),
        (2, "2 blessés graves, évacués vers Tournai"),
    ]
    # the report shows the latest wording, marked, and the earlier ones
    report = await reports.collect(h.runtime.db, 1)
    assert report is not None
    html = render_report(report, ["fr"], "Europe/Brussels")
    assert "3 blessés graves" in html and marks[0] in html
    assert "« 2 blessés légers »" in html
    assert "« 2 blessés graves, évacués vers Tournai »" in html
    # /timeline too
    await h.say(h.commander, h.ops, "/timeline")
    page = _timeline_message(h, h.ops).text or ""
    assert "2. " in page and "3 blessés graves (✏️" in page


async def test_an_edited_log_command_keeps_its_words_without_the_command(
    harness: Harness,
) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage de Tournai")
    log = await h.say(h.responder, h.ops, "/logboek #1 pompen ter plaatse")
    answers = len(h.sim.bot_messages(h.ops))
    await h.edit(h.responder, h.ops, log, "/logboek #1 twee pompen ter plaatse")
    entries = await incidents.timeline(h.runtime.db, 1, last=5)
    assert entries[-1].text == "twee pompen ter plaatse"
    assert [r.text for r in entries[-1].earlier] == ["pompen ter plaatse"]
    assert len(h.sim.bot_messages(h.ops)) == answers  # followed quietly: the card shows it
    assert "twee pompen ter plaatse (✏️" in (h.card(h.ops).text or "")
    # edited down to the bare command: refused, in the group's languages, nothing changed
    await h.edit(h.responder, h.ops, log, "/logboek")
    assert h.last_text(h.ops).startswith("⛔")
    entries = await incidents.timeline(h.runtime.db, 1, last=5)
    assert entries[-1].text == "twee pompen ter plaatse"
    assert len(entries[-1].earlier) == 1


async def test_an_edit_of_a_message_not_on_the_timeline_changes_nothing(
    harness: Harness,
) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage de Tournai")
    chatter = await h.say(h.responder, h.ops, "Quelqu'un a vu mes clés ?")
    card = h.card(h.ops)
    messages, card_edits = len(h.sim.bot_messages(h.ops)), card.edits
    await h.edit(h.responder, h.ops, chatter, "Quelqu'un a vu mes clés ? Dans le camion ?")
    assert len(h.sim.bot_messages(h.ops)) == messages
    assert h.card(h.ops).edits == card_edits
    entries = await incidents.timeline(h.runtime.db, 1, last=5)
    assert [e.kind.value for e in entries] == ["declared"]
    assert await _revisions(h) == []
    # nor an edit in a group Passerelle does not serve, even of a command
    stranger = await h.sim.send_text(h.responder, h.stranger_group, "/log test")
    await h.settle()
    before = len(h.sim.bot_messages(h.stranger_group))
    await h.edit(h.responder, h.stranger_group, stranger, "/log test 2")
    assert len(h.sim.bot_messages(h.stranger_group)) == before


async def test_a_live_locations_moves_add_nothing_to_the_timeline(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage de Tournai")
    shared = await h.sim.send_location(h.responder, h.ops, 50.6071, 3.3894, reply_to=h.card(h.ops))
    await h.settle()
    # the live location moves: Telegram sends the message again as an edit
    moved = shared.to_dict()
    moved["location"] = {"latitude": 50.70, "longitude": 3.50, "live_period": 900}
    moved["edit_date"] = moved["date"] + 60
    h.sim.post_update({"edited_message": moved})
    await h.settle()
    entries = await incidents.timeline(h.runtime.db, 1, last=10)
    assert [e.kind.value for e in entries] == ["declared", "location"]
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None and (incident.lat, incident.lon) == (50.6071, 3.3894)
    assert await _revisions(h) == []


async def test_an_edit_a_timeline_and_a_page_take_one_transaction_each(harness: Harness) -> None:
    h = harness
    await _declared_with_notes(h, 15)
    reply = await h.say(h.responder, h.ops, "Nuage jaune vers l'est", reply_to=h.card(h.ops))
    mine, _ = await _handling(
        h, lambda: h.sim.edit_message(h.responder, h.ops, reply, "Nuage jaune vers le nord")
    )
    assert mine == ["write"]
    assert "Nuage jaune vers le nord (✏️" in (h.card(h.ops).text or "")
    mine, _ = await _handling(h, lambda: h.sim.send_text(h.responder, h.ops, "/timeline"))
    assert mine == ["write"]
    message = _timeline_message(h, h.ops)
    mine, _ = await _handling(
        h, lambda: h.sim.press(h.responder, h.ops, message.message_id, timeline_data(1, 2))
    )
    assert mine == ["write"]
    assert "Nuage jaune vers le nord" in (h.sim.message(h.ops, message.message_id).text or "")


async def test_an_edited_caption_is_followed_for_a_photo_and_an_album(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Camion-citerne renversé, N50")
    card = h.card(h.ops)
    photo = await h.send_photo(h.responder, h.ops, reply_to=card, caption="Plaque orange")
    await h.edit(h.responder, h.ops, photo, "Plaque orange: 268 / 1005 (ammoniac)")
    entries = await incidents.timeline(h.runtime.db, 1, last=5)
    assert entries[-1].kind.value == "media"
    assert entries[-1].text == "Plaque orange: 268 / 1005 (ammoniac)"
    assert [r.text for r in entries[-1].earlier] == ["Plaque orange"]
    assert "Plaque orange: 268 / 1005 (ammoniac) (✏️" in (h.card(h.ops).text or "")
    # the item too, which the report describes its photo by
    assert entries[-1].media[0].caption == "Plaque orange: 268 / 1005 (ammoniac)"
    # an album is one entry: its caption's edit is followed on it
    album = await h.send_album(
        h.responder, h.ops, ["photo", "photo", "photo"], caption="Fuite", reply_to=card
    )
    await h.edit(h.responder, h.ops, album[0], "Fuite côté vanne arrière")
    entries = await incidents.timeline(h.runtime.db, 1, last=5)
    assert len(entries[-1].media) == 3
    assert entries[-1].text == "Fuite côté vanne arrière"
    assert [r.text for r in entries[-1].earlier] == ["Fuite"]
    # a caption taken away: the entry keeps its pictures, without words
    await h.edit(h.responder, h.ops, photo, "")
    entries = await incidents.timeline(h.runtime.db, 1, last=5)
    assert entries[-2].text is None
    assert [r.text for r in entries[-2].earlier] == [
        "Plaque orange",
        "Plaque orange: 268 / 1005 (ammoniac)",
    ]


async def test_help_offers_timeline_where_it_can_be_used(harness: Harness) -> None:
    h = harness
    await h.say(h.responder, h.ops, "/help")
    assert "/tijdlijn" in h.last_text(h.ops) and "/maincourante" in h.last_text(h.ops)
    # in private, a responder reaches no incident's timeline: not offered
    dm = h.sim.private_chat(h.responder)
    await h.say(h.responder, dm, "/hulp")
    assert "/tijdlijn" not in h.last_text(dm)
    liaison = h.sim.private_chat(h.liaison)
    await h.say(h.liaison, liaison, "/aide")
    assert "/maincourante" in h.last_text(liaison)
