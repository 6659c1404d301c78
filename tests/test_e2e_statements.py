"""One voice to the media: drafts go to the spokesperson; only their approval publishes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.i18n import translator
from bot.incidents import service as incidents
from bot.render.keyboards import statement_data
from bot.simulator import SimChat, SimMessage, TelegramSimulator
from bot.statements import service as media
from tests.conftest import settings_data
from tests.harness import Harness

FR = translator("fr").gettext
NL = translator("nl").gettext
MEDIA = -100500


@pytest.fixture
async def h(sim: TelegramSimulator, tmp_path: Path) -> AsyncIterator[Harness]:
    db_path = tmp_path / "media.db"
    chats: list[dict[str, Any]] = settings_data(db_path)["chats"] + [
        {
            "id": MEDIA,
            "name": "Presse / Pers",
            "kind": "media",
            "country": "BE",
            "languages": ["fr", "nl"],
        }
    ]
    running = Harness(sim, db_path, chats=chats)
    running.media = sim.add_chat(MEDIA, "channel", title="Presse", bot_status="administrator")  # type: ignore[attr-defined]
    await running.start()
    # the spokesperson has opened a private chat with the bot
    await running.say(running.spokesperson, sim.private_chat(running.spokesperson), "/start")
    await running.say(running.commander, running.ops, "/incident Fuite de chlore à Tournai")
    await running.say(running.commander, running.ops, "/assign porte-parole @pclaeys")
    yield running
    await running.stop()


def _media(h: Harness) -> list[SimMessage]:
    return h.sim.bot_messages(h.media)  # type: ignore[attr-defined]


def _drafts(h: Harness) -> list[SimMessage]:
    dm: SimChat = h.sim.private_chat(h.spokesperson)
    return [m for m in h.sim.bot_messages(dm) if any(d.startswith("s1:") for d in m.callback_data)]


async def test_a_draft_reaches_the_spokesperson_and_only_their_approval_publishes(
    h: Harness,
) -> None:
    await h.say(
        h.commander, h.ops, "/statement fr: Fuite maîtrisée, pas de danger | nl: Lek onder controle"
    )
    assert NL("Spokesperson") not in h.last_text(h.ops)
    assert "Pieter Claeys" in h.last_text(h.ops)
    assert _media(h) == []
    draft = _drafts(h)[-1]
    # the spokesperson reads the draft in Dutch (their language), with both versions
    assert NL("Nothing reaches the media until you approve it.") in (draft.text or "")
    assert "Fuite maîtrisée, pas de danger" in (draft.text or "")
    assert "Lek onder controle" in (draft.text or "")
    # the commander pressing a forged approve is refused with the spokesperson's name
    query = await h.press(
        h.commander,
        h.sim.private_chat(h.spokesperson),
        draft,
        statement_data(1, 1, "ok"),
        forged=True,
    )
    assert "Pieter Claeys" in (h.sim.callback_answers[query].text or "")
    assert _media(h) == []
    await h.press(
        h.spokesperson, h.sim.private_chat(h.spokesperson), draft, statement_data(1, 1, "ok")
    )
    published = _media(h)
    assert len(published) == 1
    text = published[0].text or ""
    assert "Fuite maîtrisée, pas de danger" in text and "Lek onder controle" in text
    assert "Pieter Claeys" in text
    assert (await media.get(h.runtime.db, 1)).status == "published"
    # on the timeline, and the commander's chat is told
    entries = await incidents.timeline(h.runtime.db, 1, 50)
    assert entries[-1].kind.value == "statement"
    assert any("📰" in t and "Pieter Claeys" in t for t in h.bot_texts(h.ops))
    # the draft can no longer be pressed
    assert h.sim.message(h.sim.private_chat(h.spokesperson), draft.message_id).callback_data == []


async def test_others_are_refused_with_the_spokespersons_name(h: Harness) -> None:
    await h.say(h.responder, h.ops, "/statement Tout va bien")
    text = h.last_text(h.ops)
    assert text.startswith("⛔") and "Pieter Claeys" in text
    assert _drafts(h) == [] and _media(h) == []


async def test_a_rejected_draft_is_not_published_and_stale_buttons_do_nothing(
    h: Harness,
) -> None:
    await h.say(h.liaison, h.ops, "/statement Évacuation du quartier de la gare")
    draft = _drafts(h)[-1]
    dm = h.sim.private_chat(h.spokesperson)
    await h.press(h.spokesperson, dm, draft, statement_data(1, 1, "no"))
    assert (await media.get(h.runtime.db, 1)).status == "rejected"
    assert any(t.startswith("✖️") for t in h.bot_texts(h.ops))
    # an approve button pressed after the rejection (an old copy) changes nothing
    query = await h.press(h.spokesperson, dm, draft, statement_data(1, 1, "ok"), forged=True)
    assert h.sim.callback_answers[query].show_alert
    assert _media(h) == []
    assert (await media.get(h.runtime.db, 1)).status == "rejected"


async def test_the_spokesperson_edits_a_draft_before_approving_it(h: Harness) -> None:
    await h.say(h.commander, h.ops, "/statement Fuite maitrisee")
    dm = h.sim.private_chat(h.spokesperson)
    first = _drafts(h)[-1]
    await h.press(h.spokesperson, dm, first, statement_data(1, 1, "ed"))
    prompt = h.sim.last_bot_message(dm)
    assert prompt is not None and prompt.reply_markup and prompt.reply_markup.get("force_reply")
    await h.say(
        h.spokesperson,
        dm,
        "fr: La fuite est maîtrisée. | nl: Het lek is onder controle.",
        reply_to=prompt,
    )
    second = _drafts(h)[-1]
    assert second.message_id != first.message_id
    assert statement_data(1, 2, "ok") in second.callback_data
    # the first version's approve is stale
    query = await h.press(h.spokesperson, dm, first, statement_data(1, 1, "ok"))
    assert h.sim.callback_answers[query].show_alert and _media(h) == []
    await h.press(h.spokesperson, dm, second, statement_data(1, 2, "ok"))
    assert len(_media(h)) == 1
    text = _media(h)[0].text or ""
    assert "La fuite est maîtrisée." in text and "Het lek is onder controle." in text
    assert "maitrisee" not in text


async def test_the_spokesperson_may_publish_directly(h: Harness) -> None:
    await h.say(h.spokesperson, h.ops, "/statement Point presse à 15 h à la mairie de Tournai")
    assert len(_media(h)) == 1 and _drafts(h) == []
    assert "Point presse à 15 h" in (_media(h)[0].text or "")


async def test_bad_statements_change_nothing(h: Harness) -> None:
    await h.say(h.commander, h.ops, "/statement")
    assert h.last_text(h.ops).startswith("⛔")
    await h.say(h.commander, h.ops, "/statement " + "x" * 3001)
    assert h.last_text(h.ops).startswith("⛔")
    await h.say(h.commander, h.ops, "/statement #42 Rien")
    assert h.last_text(h.ops).startswith("⛔")
    async with h.runtime.db.read() as tx:
        assert await tx.all("SELECT * FROM statements") == []
