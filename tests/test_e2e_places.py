"""End to end: place names typed in Telegram give incidents their coordinates."""

from __future__ import annotations

from bot.core.i18n import translator
from bot.geo import gazetteer
from bot.incidents import service as incidents
from bot.render.keyboards import place_data
from tests.harness import Harness

FR = translator("fr").gettext
NL = translator("nl").gettext


async def test_set_location_by_a_dutch_name(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage")
    await h.say(h.commander, h.ops, "/set location Gare de Doornik")
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None
    assert incident.location_text == "Gare de Doornik"
    assert (round(incident.lat or 0, 2), round(incident.lon or 0, 2)) == (50.61, 3.39)
    reply = h.last_text(h.ops)
    assert "Tournai (Hainaut)" in reply and "50.60715, 3.38932" in reply
    assert "50.60715, 3.38932" in (h.card(h.ops).text or "")


async def test_an_ambiguous_name_is_asked_about_with_buttons(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Feu d'entrepôt à Comines")
    question = next(
        m for m in h.sim.bot_messages(h.ops) if any(d.startswith("g1:") for d in m.callback_data)
    )
    text = question.text or ""
    # asked in both languages of the group
    assert (
        FR("📍 Which {name} do you mean, for #{ref}? Choose below.").format(name="Comines", ref=1)
        in text
    )
    assert (
        NL("📍 Which {name} do you mean, for #{ref}? Choose below.").format(name="Comines", ref=1)
        in text
    )
    belgian = next(p for p in gazetteer.lookup("Komen"))
    french = next(p for p in gazetteer.lookup("Comines FR"))
    assert set(question.callback_data) == {place_data(1, belgian.id), place_data(1, french.id)}
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None and incident.lat is None  # nothing chosen yet
    # a responder may not choose
    query = await h.press(h.responder, h.ops, question, place_data(1, belgian.id))
    assert h.sim.callback_answers[query].show_alert
    await h.press(h.commander, h.ops, question, place_data(1, belgian.id))
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None
    assert (incident.lat, incident.lon) == (belgian.lat, belgian.lon)
    assert incident.location_text == "Comines"
    # a forged place id is refused
    query = await h.press(h.commander, h.ops, question, "g1:1:999999", forged=True)
    assert h.sim.callback_answers[query].show_alert


async def test_an_unknown_place_stays_free_text(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Accident de car")
    await h.say(h.commander, h.ops, "/set location Atlantis plage")
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None
    assert incident.location_text == "Atlantis plage" and incident.lat is None


async def test_incident_title_naming_one_place_is_located_at_once(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Brand in loods te Moeskroen")
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None and incident.location_text == "Mouscron"
    assert incident.lat is not None and round(incident.lat, 2) == 50.74
