"""End to end: the situation board opened from Telegram. The card's Board button (a link
through Telegram in a group: the Mini App or the private chat), `/start board_<ref>` answered
in private with a `web_app` button (only to who may see the incident), `/board` (a personal
link: issued, verified, revoked, expired; nothing doubled by a redelivered update)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.error import BadRequest

from bot.board import tokens
from bot.core.db import to_db_time, utcnow
from bot.core.i18n import translator
from bot.render.keyboards import BoardLinks, board_keyboard, card_keyboard, parse_board_start
from bot.simulator import SimMessage, TelegramSimulator
from tests.harness import Harness
from tests.test_render import _incident

FR = translator("fr").gettext
NL = translator("nl").gettext
EN = translator("en").gettext
TITLE = "Fuite de chlore, gare de triage de Tournai"
BOT = "passerelle_test_bot"
_TOKEN = re.compile(r"/board/#token=([A-Za-z0-9_-]{43})")


@pytest.fixture
async def board_harness(sim: TelegramSimulator, tmp_path: Path) -> AsyncIterator[Any]:
    """A bot whose Mini App is registered with @BotFather, behind an https address."""
    running = Harness(
        sim,
        tmp_path / "e2e.db",
        board={"app_name": "situation", "public_url": "https://board.example.org"},
    )
    await running.start()
    yield running
    await running.stop()


def _board_button(message: SimMessage) -> tuple[str, str]:
    found = [(label, url) for label, url in message.buttons if label.startswith("🗺")]
    assert len(found) == 1, message.buttons
    return found[0]


def _private_answers(h: Harness, user: Any, since: int) -> list[SimMessage]:
    chat = h.sim.private_chat(user)
    return [m for m in h.sim.bot_messages(chat) if m.message_id > since]


def _last_id(h: Harness, user: Any) -> int:
    return max(h.sim.private_chat(user).messages, default=0)


async def _token_rows(h: Harness) -> list[Any]:
    async with h.runtime.db.read() as tx:
        return await tx.all("SELECT person_id, revoked_at FROM board_tokens ORDER BY id")


async def _person_of(h: Harness, token: str) -> int | None:
    async with h.runtime.db.read() as tx:
        return await tokens.verify_in(tx, token)


async def test_the_cards_button_leads_to_the_private_chat_without_a_mini_app(
    harness: Harness,
) -> None:
    h = harness
    await h.say(h.commander, h.ops, f"/incident {TITLE}")
    label, url = _board_button(h.card(h.ops))
    # a bilingual group reads the label in both its languages
    assert label == f"🗺 {FR('Board')} / {NL('Board')}"
    assert url == f"https://t.me/{BOT}?start=board_1"
    # a French group, its own incident
    await h.say(h.commander_fr, h.ops_fr, "/incident Feu d'entrepôt à Roubaix")
    assert _board_button(h.card(h.ops_fr)) == (
        f"🗺 {FR('Board')}",
        f"https://t.me/{BOT}?start=board_2",
    )
    # the deep link's argument comes back as the incident's reference
    assert parse_board_start(url.rsplit("=", 1)[1]) == 1
    # the board on plain http (a local test): Telegram would refuse a web_app button, so the
    # deep link's answer gives the address and points to /board
    private = h.sim.private_chat(h.commander)
    since = _last_id(h, h.commander)
    await h.say(h.commander, private, "/start board_1")
    [answer] = _private_answers(h, h.commander, since)
    assert not answer.buttons and TITLE in (answer.text or "")
    # the address the server listens at (the tests' free port), not the configured port 0
    assert f"{h.board_url}#incident=1" in (answer.text or "")
    assert "/tableau" in (answer.text or "")
    # ... and /tableau's personal link opens that address in a browser
    since = _last_id(h, h.commander)
    await h.say(h.commander, private, "/tableau")
    [answer] = _private_answers(h, h.commander, since)
    assert f"{h.board_url}#token=" in (answer.text or "")
    # a closed incident's card has no buttons at all (as before)
    await h.say(h.commander, h.ops, "/close #1")
    assert not [b for b in h.card(h.ops).buttons if b[0].startswith("🗺")]


async def test_the_cards_button_opens_the_mini_app_when_registered(board_harness: Harness) -> None:
    h = board_harness
    await h.say(h.commander, h.ops, f"/incident {TITLE}")
    _, url = _board_button(h.card(h.ops))
    assert url == f"https://t.me/{BOT}/situation?startapp=i1"


async def test_no_board_button_when_the_board_is_off(
    sim: TelegramSimulator, tmp_path: Path
) -> None:
    h = Harness(sim, tmp_path / "off.db", board={"enabled": False})
    await h.start()
    try:
        await h.say(h.commander, h.ops, f"/incident {TITLE}")
        assert h.card(h.ops).buttons  # status and severity buttons as ever
        assert not [b for b in h.card(h.ops).buttons if b[0].startswith("🗺")]
        since = _last_id(h, h.commander)
        await h.say(h.commander, h.sim.private_chat(h.commander), "/start board_1")
        await h.say(h.commander, h.sim.private_chat(h.commander), "/board")
        texts = [m.text or "" for m in _private_answers(h, h.commander, since)]
        assert texts == ["⛔ " + FR("The situation board is not enabled on this Passerelle.")] * 2
        assert await _token_rows(h) == []
        # neither /help nor the command menus offer it
        private = h.sim.private_chat(h.commander)
        await h.say(h.commander, private, "/help")
        assert "/tableau" not in h.last_text(private) and "/board" not in h.last_text(private)
        assert "/carte" in h.last_text(private)
        for language in ("fr", "nl", "en"):
            names = [c["command"] for c in h.sim.commands_for(None, language)]
            assert "map" in names or "carte" in names or "kaart" in names
            assert not {"board", "tableau", "bord"} & set(names)
    finally:
        await h.stop()


async def test_the_deep_link_answers_with_the_boards_web_app_button(
    board_harness: Harness,
) -> None:
    h = board_harness
    await h.say(h.commander, h.ops, f"/incident {TITLE}")
    private = h.sim.private_chat(h.commander)
    since = _last_id(h, h.commander)
    await h.say(h.commander, private, "/start board_1")
    [answer] = _private_answers(h, h.commander, since)
    assert TITLE in (answer.text or "")
    assert FR("The situation board of this incident, live: open it with the button below.") in (
        answer.text or ""
    )
    assert answer.buttons == [
        (f"🗺 {FR('Open the board')}", "https://board.example.org/board/#incident=1")
    ]
    web_app = answer.reply_markup["inline_keyboard"][0][0]  # type: ignore[index]
    assert web_app["web_app"] == {"url": "https://board.example.org/board/#incident=1"}
    # a Dutch reader reads Dutch (the spokesperson is assigned: he may see it)
    await h.say(h.commander, h.ops, "/assign spokesperson @pclaeys")
    since = _last_id(h, h.spokesperson)
    await h.say(h.spokesperson, h.sim.private_chat(h.spokesperson), "/start board_1")
    [answer] = _private_answers(h, h.spokesperson, since)
    assert answer.buttons[0][0] == f"🗺 {NL('Open the board')}"
    # /start alone is still the welcome
    since = _last_id(h, h.commander)
    await h.say(h.commander, private, "/start")
    [answer] = _private_answers(h, h.commander, since)
    assert not answer.buttons and "/aide" in (answer.text or "")


async def test_the_deep_link_refuses_who_may_not_see_the_incident(board_harness: Harness) -> None:
    h = board_harness
    await h.say(h.commander, h.ops, f"/incident {TITLE}")  # #1, Tournai (BE)
    await h.say(h.commander_fr, h.ops_fr, "/incident Feu d'entrepôt à Roubaix")  # #2, Lille (FR)
    # a responder who only chatted in the group is known, but in no incident's chat
    await h.say(h.responder, h.ops, "Bonjour à tous")
    refused = "⛔ " + NL("There is no incident #{ref} here.").format(ref=1)
    since = _last_id(h, h.responder)
    await h.say(h.responder, h.sim.private_chat(h.responder), "/start board_1")
    [answer] = _private_answers(h, h.responder, since)
    assert answer.text == refused and not answer.buttons
    # once he wrote on #1's timeline (a reply to the card), he is known in its group
    await h.say(h.responder, h.ops, "Deux blessés légers", reply_to=h.card(h.ops))
    since = _last_id(h, h.responder)
    await h.say(h.responder, h.sim.private_chat(h.responder), "/start board_1")
    [answer] = _private_answers(h, h.responder, since)
    assert answer.buttons and answer.buttons[0][1].endswith("#incident=1")
    # ... but not in Lille's: #2 is answered exactly like an incident that does not exist
    for ref in (2, 999):
        since = _last_id(h, h.responder)
        await h.say(h.responder, h.sim.private_chat(h.responder), f"/start board_{ref}")
        [answer] = _private_answers(h, h.responder, since)
        assert answer.text == "⛔ " + NL("There is no incident #{ref} here.").format(ref=ref)
        assert "Roubaix" not in (answer.text or "")
    # a Belgian commander sees Belgian incidents, not a French one he has no part in
    since = _last_id(h, h.commander)
    await h.say(h.commander, h.sim.private_chat(h.commander), "/start board_2")
    [answer] = _private_answers(h, h.commander, since)
    assert answer.text == "⛔ " + FR("There is no incident #{ref} here.").format(ref=2)
    # a liaison officer sees every incident
    since = _last_id(h, h.liaison)
    await h.say(h.liaison, h.sim.private_chat(h.liaison), "/start board_2")
    [answer] = _private_answers(h, h.liaison, since)
    assert answer.buttons and answer.buttons[0][1].endswith("#incident=2")
    # a stranger gets the press contact line, and nothing about any incident
    stranger = h.sim.add_user(31337, "Journaliste", username="presse", language_code="fr")
    calls = len(h.sim.calls)
    await h.say(stranger, h.sim.private_chat(stranger), "/start board_1")
    sent = h.sim.calls[calls:]
    assert sent and not [c for c in sent if TITLE in repr(c.params) or "board" in repr(c.params)]
    # junk after board_ is no incident: the welcome
    since = _last_id(h, h.commander)
    await h.say(h.commander, h.sim.private_chat(h.commander), "/start board_1x")
    [answer] = _private_answers(h, h.commander, since)
    assert not answer.buttons and TITLE not in (answer.text or "")
    assert await _token_rows(h) == []


async def test_telegram_refuses_a_web_app_button_in_a_group(board_harness: Harness) -> None:
    """Why the card's button is a link in a group: the stand-in refuses a web_app button there
    as Telegram does, and takes it in a private chat."""
    h = board_harness
    assert h.app is not None
    links = BoardLinks(BOT, "https://board.example.org", "situation")
    with pytest.raises(BadRequest, match=r"(?i)button_type_invalid"):
        await h.app.bot.send_message(h.ops.id, "x", reply_markup=board_keyboard(1, "fr", links))
    await h.app.bot.send_message(
        h.sim.private_chat(h.commander).id, "x", reply_markup=board_keyboard(1, "fr", links)
    )


async def test_a_personal_link_is_issued_verified_revoked_and_expires(
    board_harness: Harness,
) -> None:
    h = board_harness
    private = h.sim.private_chat(h.commander)
    since = _last_id(h, h.commander)
    await h.say(h.commander, private, "/tableau")
    [answer] = _private_answers(h, h.commander, since)
    text = answer.text or ""
    assert FR("Your personal link to the situation board") in text
    match = _TOKEN.search(text)
    assert match is not None, text
    assert text[match.start() - len("https://board.example.org") : match.start()] == (
        "https://board.example.org"
    )
    first = match.group(1)
    assert await _person_of(h, first) == h.commander.id
    # the link works until a date 30 days on, in the reader's language
    until = translator("fr").datetime(utcnow() + timedelta(days=30), "Europe/Brussels")
    assert until.split()[0] in text

    # Telegram delivers the same update again: no second link
    update_id = h.sim.last_update_id
    await h.say(h.commander, private, "/board")  # a second link, on purpose
    second_text = _private_answers(h, h.commander, since)[-1].text or ""
    second = _TOKEN.search(second_text)
    assert second is not None and second.group(1) != first
    rows = len(await _token_rows(h))
    await h.redeliver(update_id)
    assert len(await _token_rows(h)) == rows == 2

    # a Dutch name of the command, and another person's link is theirs
    since_nl = _last_id(h, h.spokesperson)
    await h.say(h.spokesperson, h.sim.private_chat(h.spokesperson), "/bord")
    [nl_answer] = _private_answers(h, h.spokesperson, since_nl)
    assert NL("Your personal link to the situation board") in (nl_answer.text or "")
    theirs = _TOKEN.search(nl_answer.text or "")
    assert theirs is not None
    assert await _person_of(h, theirs.group(1)) == h.spokesperson.id

    # revoked: both of the commander's links, none of anyone else's
    since = _last_id(h, h.commander)
    await h.say(h.commander, private, "/board revoke")
    [answer] = _private_answers(h, h.commander, since)
    assert answer.text == translator("fr").ngettext(
        "✅ {count} personal link to the board revoked: it opens nothing any more.",
        "✅ {count} personal links to the board revoked: they open nothing any more.",
        2,
    ).format(count=2)
    assert await _person_of(h, first) is None
    assert await _person_of(h, second.group(1)) is None
    assert await _person_of(h, theirs.group(1)) == h.spokesperson.id
    since = _last_id(h, h.commander)
    await h.say(h.commander, private, "/tableau révoquer")
    [answer] = _private_answers(h, h.commander, since)
    assert answer.text == FR("You had no personal link to the board in force: nothing to revoke.")

    # expired: past its time a link opens nothing
    async with h.runtime.db.unit() as unit:
        await unit.execute(
            "UPDATE board_tokens SET expires_at = ? WHERE person_id = ?",
            (to_db_time(utcnow() - timedelta(minutes=1)), h.spokesperson.id),
        )
    assert await _person_of(h, theirs.group(1)) is None
    async with h.runtime.db.read() as tx:
        assert await tokens.state_in(tx, theirs.group(1)) == ("expired", h.spokesperson.id)


async def test_board_is_for_a_private_chat_and_takes_only_revoke(board_harness: Harness) -> None:
    h = board_harness
    await h.say(h.commander, h.ops, "/board")
    text = h.sim.last_bot_message(h.ops).text or ""  # type: ignore[union-attr]
    assert FR("This command works in a private chat with me.") in text
    assert NL("This command works in a private chat with me.") in text
    private = h.sim.private_chat(h.admin)
    for junk in ("/board now", "/board revoke all", "/board " + "x" * 3000):
        since = _last_id(h, h.admin)
        await h.say(h.admin, private, junk)
        [answer] = _private_answers(h, h.admin, since)
        assert answer.text == "⛔ " + EN(
            "Usage: /board for a personal link to the board, /board revoke to end them."
        )
    assert await _token_rows(h) == []
    # /help in private offers it, in the reader's language
    since = _last_id(h, h.commander)
    await h.say(h.commander, h.sim.private_chat(h.commander), "/aide")
    [answer] = _private_answers(h, h.commander, since)
    assert "/tableau" in (answer.text or "")


def test_the_board_links_are_built_and_parsed_strictly() -> None:
    """Pure: the card's keyboard with the board, in a group and in a private chat, and the deep
    link's argument read back (anything else is no incident)."""
    incident = _incident(ref=12)
    links = BoardLinks(BOT, "https://board.example.org")
    group = card_keyboard(incident, ["fr", "nl"], links)
    assert group is not None
    button = group.inline_keyboard[-1][0]
    assert button.url == f"https://t.me/{BOT}?start=board_12" and button.web_app is None
    private = card_keyboard(incident, ["nl"], links, private=True)
    assert private is not None
    button = private.inline_keyboard[-1][0]
    assert button.url is None and button.web_app is not None
    assert button.web_app.url == "https://board.example.org/board/#incident=12"
    assert button.text == f"🗺 {NL('Board')}"
    # on plain http Telegram opens no web_app: the private card links through Telegram too
    local = card_keyboard(incident, ["nl"], BoardLinks(BOT, "http://127.0.0.1:8080"), private=True)
    assert local is not None
    assert local.inline_keyboard[-1][0].url == f"https://t.me/{BOT}?start=board_12"
    # without the board: the card's buttons as before
    plain = card_keyboard(incident, ["fr"])
    assert plain is not None and all(b.callback_data for row in plain.inline_keyboard for b in row)
    assert links.personal("t" * 43) == "https://board.example.org/board/#token=" + "t" * 43
    assert BoardLinks(BOT, "http://127.0.0.1:8080", "situation").through_telegram(3) == (
        f"https://t.me/{BOT}/situation?startapp=i3"
    )
    assert parse_board_start("board_12") == 12
    for junk in (
        "",
        "board_",
        "board_x",
        "board_-1",
        "board_1x",
        "board_１２",
        "board_٣",
        "board_1234567890",
        "12",
        "boardx_1",
        "BOARD_1",
    ):
        assert parse_board_start(junk) is None, junk
