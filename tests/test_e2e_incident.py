"""End to end: a real Application against the stand-in, users typing and pressing buttons."""

from __future__ import annotations

from bot import incidents
from bot.i18n import translator
from bot.render.keyboards import severity_data, status_data
from bot.models import IncidentStatus, Severity
from tests.harness import Harness

FR = translator("fr").gettext
NL = translator("nl").gettext


async def test_declare_posts_and_pins_a_bilingual_card(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage de Tournai")
    card = h.card(h.ops)
    assert card.from_bot
    text = card.text or ""
    assert "#1 Fuite de chlore, gare de triage de Tournai" in text
    # a mixed group reads French and Dutch in the same message
    assert FR("Timeline") in text and NL("Timeline") in text
    assert FR("Timeline") != NL("Timeline")
    assert "Marc Delattre" in text
    assert status_data(1, IncidentStatus.ACTIVE) in card.callback_data
    assert severity_data(1, Severity.SEVERE) in card.callback_data
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None and incident.chat_id == h.ops.id
