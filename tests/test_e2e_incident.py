"""End to end: a real Application against the stand-in, users typing and pressing buttons."""

from __future__ import annotations

import pytest

from bot.core.i18n import translator
from bot.core.models import IncidentStatus, Severity
from bot.incidents import service as incidents
from bot.render.keyboards import severity_data, status_data
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


async def _declared(h: Harness, title: str = "Fuite de chlore, gare de triage de Tournai") -> None:
    await h.say(h.commander, h.ops, f"/incident {title}")


async def test_replies_and_a_shared_location_edit_the_same_card(harness: Harness) -> None:
    h = harness
    await _declared(h)
    card = h.card(h.ops)
    edits_before = card.edits
    await h.say(h.responder, h.ops, "Nuage jaunâtre visible depuis le pont <b>&", reply_to=card)
    await h.sim.send_location(h.responder, h.ops, 50.6071, 3.3894, reply_to=card)
    await h.settle()
    after = h.card(h.ops)
    assert after.message_id == card.message_id  # edited in place, never re-posted
    assert after.edits > edits_before
    text = after.text or ""
    # the responder's words are shown as text, their tags escaped, in both blocks
    assert text.count("Jan Peeters: Nuage jaunâtre visible depuis le pont <b>&") == 2
    assert "50.60710, 3.38940" in text
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None and (incident.lat, incident.lon) == (50.6071, 3.3894)
    # only one card message in the chat
    cards = [m for m in h.sim.bot_messages(h.ops) if "#1 Fuite" in (m.text or "")]
    assert len(cards) == 1


async def test_chatter_addressed_to_no_incident_is_not_stored(harness: Harness) -> None:
    h = harness
    await _declared(h)
    other = await h.say(h.responder, h.ops, "Quelqu'un a vu mes clés ?")
    await h.say(h.commander, h.ops, "Dans le camion", reply_to=other)
    entries = await incidents.timeline(h.runtime.db, 1, last=50)
    assert [e.text for e in entries] == ["Fuite de chlore, gare de triage de Tournai"]


async def test_status_and_severity_buttons_change_the_card(harness: Harness) -> None:
    h = harness
    await _declared(h)
    card = h.card(h.ops)
    query = await h.press(h.commander, h.ops, card, status_data(1, IncidentStatus.ACTIVE))
    answer = h.sim.callback_answers[query]
    assert answer.text == FR("Status: {status}").format(status=FR("active"))
    query = await h.press(h.commander, h.ops, h.card(h.ops), severity_data(1, Severity.SEVERE))
    assert h.sim.callback_answers[query].text == FR("Severity: {severity}").format(
        severity=FR("severe")
    )
    text = h.card(h.ops).text or ""
    assert f"{FR('Status: {status}').split('{')[0]}" in text
    assert FR("severe") in text and NL("severe") in text
    assert FR("active") in text and NL("active") in text
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None
    assert (incident.status, incident.severity) == (IncidentStatus.ACTIVE, Severity.SEVERE)
    # the button for the current status is gone
    assert status_data(1, IncidentStatus.ACTIVE) not in h.card(h.ops).callback_data


async def test_a_responder_pressing_a_commander_button_is_refused(harness: Harness) -> None:
    h = harness
    await _declared(h)
    card = h.card(h.ops)
    query = await h.press(h.responder, h.ops, card, status_data(1, IncidentStatus.CLOSED))
    answer = h.sim.callback_answers[query]
    assert answer.show_alert
    assert (answer.text or "").startswith("⛔")
    # the responder's own language (Dutch), not the group's
    assert NL("commander") in (answer.text or "")
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None and incident.status is IncidentStatus.REPORTED


async def test_forged_button_for_another_chats_incident_changes_nothing(harness: Harness) -> None:
    h = harness
    await h.say(h.commander_fr, h.ops_fr, "/incident Feu d'entrepôt à Roubaix")
    await _declared(h)  # incident #2 in the Tournai group
    query = await h.press(h.commander, h.ops, h.card(h.ops), "i1:1:st:clo", forged=True)
    assert h.sim.callback_answers[query].show_alert
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None and incident.is_open
    query = await h.press(h.commander, h.ops, h.card(h.ops), "i1:2:xx:zz", forged=True)
    assert h.sim.callback_answers[query].show_alert


async def test_status_gives_the_whole_situation(harness: Harness) -> None:
    h = harness
    await _declared(h)
    await h.say(h.commander, h.ops, "/incident Accident A8, bus scolaire, Mouscron")
    for n in range(7):
        await h.say(h.commander, h.ops, f"/log #1 point de situation {n}")
    await h.say(h.commander, h.ops, "/set #2 severity ernstig")
    await h.say(h.liaison, h.ops, "/status")
    text = h.last_text(h.ops)
    assert "#1 Fuite de chlore" in text and "#2 Accident A8" in text
    french_block = text.split("— — —")[0]
    # the last five entries of #1, not the older ones
    assert "point de situation 6" in french_block and "point de situation 2" in french_block
    assert "point de situation 1" not in french_block
    assert FR("severe") in french_block
    # a responder may not ask for it
    await h.say(h.responder, h.ops, "/status")
    assert h.last_text(h.ops).startswith("⛔")


async def test_status_in_private_shows_every_open_incident_to_a_liaison(harness: Harness) -> None:
    h = harness
    await _declared(h)
    await h.say(h.commander_fr, h.ops_fr, "/incident Feu d'entrepôt à Roubaix")
    dm = h.sim.private_chat(h.liaison)
    await h.say(h.liaison, dm, "/status")
    text = h.last_text(dm)
    assert "#1 Fuite de chlore" in text and "#2 Feu d'entrepôt" in text
    assert FR("Timeline") not in text or True  # /status lists the latest entries
    assert FR("Latest:") in text


async def test_set_assign_and_close(harness: Harness) -> None:
    h = harness
    await _declared(h)
    await h.say(h.commander, h.ops, "/set lieu Gare de triage, Tournai")
    await h.say(h.commander, h.ops, "/set type fuite de chlore")
    await h.say(h.commander, h.ops, "/set gravité extrême")
    await h.say(h.commander, h.ops, "/assign porte-parole @pclaeys")
    msg = await h.say(h.responder, h.ops, "Je suis là")
    await h.say(h.commander, h.ops, "/assign liaison", reply_to=msg)
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None
    assert incident.location_text == "Gare de triage, Tournai"
    assert incident.type == "fuite de chlore"
    assert incident.severity is Severity.EXTREME
    assert incident.spokesperson is not None and incident.spokesperson.name == "Pieter Claeys"
    assert incident.liaison is not None and incident.liaison.name == "Jan Peeters"
    text = h.card(h.ops).text or ""
    assert "Pieter Claeys" in text and "Gare de triage, Tournai" in text
    await h.say(h.commander, h.ops, "/close")
    card = h.card(h.ops)
    assert card.callback_data == []  # a closed incident has no buttons
    assert FR("closed") in (card.text or "")
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None and not incident.is_open
    # nothing more can be added to a closed incident
    await h.say(h.responder, h.ops, "encore une chose", reply_to=card)
    assert h.last_text(h.ops).startswith("⛔")


async def test_refused_commands_change_nothing_and_say_why(harness: Harness) -> None:
    h = harness
    await h.say(h.responder, h.ops, "/incident Je déclare un incident")
    text = h.last_text(h.ops)
    assert text.startswith("⛔") and "— — —" in text  # both languages
    assert NL("commander") in text and FR("commander") in text
    assert await incidents.open_in_chat(h.runtime.db, h.ops.id) == []
    assert h.sim.pinned(h.ops) is None
    await _declared(h)
    await h.say(h.responder, h.ops, "/close")
    assert h.last_text(h.ops).startswith("⛔")
    await h.say(h.commander, h.ops, "/set gravité apocalyptique")
    assert h.last_text(h.ops).startswith("⛔")
    await h.say(h.commander, h.ops, "/incident")
    assert h.last_text(h.ops).startswith("⛔")
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None and incident.is_open and incident.severity is None


async def test_an_unregistered_chat_gets_its_id_and_nothing_is_stored(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.stranger_group, "/incident Test")
    await h.say(h.commander, h.stranger_group, "just chatting")
    texts = h.bot_texts(h.stranger_group)
    assert len(texts) == 1
    assert str(h.stranger_group.id) in texts[0]
    assert texts[0] == FR(
        "This chat is not registered with Passerelle, so I do not act here. "
        "An admin can register it with this chat id: {chat_id}"
    ).format(chat_id=h.stranger_group.id)
    async with h.runtime.db.read() as tx:
        assert await tx.all("SELECT * FROM incidents") == []
        assert await tx.all("SELECT * FROM chats WHERE id = ?", (h.stranger_group.id,)) == []


async def test_private_lang_switches_to_dutch(harness: Harness) -> None:
    h = harness
    dm = h.sim.private_chat(h.commander)
    await h.say(h.commander, dm, "/help")
    assert FR("What you can do") in h.last_text(dm)
    await h.say(h.commander, dm, "/lang nl")
    assert h.last_text(dm).startswith("✅")
    assert NL("Dutch") in h.last_text(dm)
    await h.say(h.commander, dm, "/help")
    assert NL("What you can do") in h.last_text(dm)
    assert "/incident" in h.last_text(dm)  # a commander's help lists commander commands
    await h.say(h.commander, dm, "/lang klingon")
    assert h.last_text(dm).startswith("⛔")
    # a responder's help does not offer what they cannot do (once Passerelle knows them
    # from a registered group; a stranger gets only a press contact line)
    dm2 = h.sim.private_chat(h.responder)
    await h.say(h.responder, dm2, "/help")
    assert h.last_text(dm2) == NL(
        "Passerelle is a coordination tool of the emergency services. Journalists: please "
        "contact the press office of the authority in charge (mayor's office, prefecture or "
        "governor)."
    )
    assert "/lang" not in h.last_text(dm2)
    await h.say(h.responder, h.ops, "Bonjour")
    await h.say(h.responder, dm2, "/help")
    assert "/incident" not in h.last_text(dm2)
    assert "/taal" in h.last_text(dm2)  # /lang, by its Dutch name for a Dutch reader


async def test_an_english_group_reads_english(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.ops_en, "/exercise Flood drill on the Lys")
    text = h.card(h.ops_en).text or ""
    assert "EXERCISE" in text and "Timeline" in text and "— — —" not in text


async def test_an_exercise_is_marked_in_every_language(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/exercise Exercice SEVESO Feluy")
    text = h.card(h.ops).text or ""
    assert "EXERCICE" in text and "OEFENING" in text
    await h.say(h.liaison, h.ops, "/status")
    assert "EXERCICE" in h.last_text(h.ops)


async def test_command_menus_are_registered_per_language(harness: Harness) -> None:
    h = harness
    menus = {
        language: {c["command"]: c["description"] for c in h.sim.commands_for(None, language)}
        for language in ("", "en", "fr", "nl")
    }
    # English names in English (and for any other client language), each language's own
    # names in French and Dutch: /demande, /aanvraag; the same word where it is the same
    assert {"incident", "status", "log", "lang", "request", "map"} <= set(menus["en"])
    assert menus[""] == menus["en"]
    assert {"incident", "situation", "note", "langue", "demande", "carte"} <= set(menus["fr"])
    assert {"incident", "status", "logboek", "taal", "aanvraag", "kaart"} <= set(menus["nl"])
    assert not {"request", "map", "lang"} & (set(menus["fr"]) | set(menus["nl"]))
    assert len(menus["fr"]) == len(menus["nl"]) == len(menus["en"])
    # each description names the command as that menu does
    assert "/demande [#réf]" in menus["fr"]["demande"]
    assert "/aanvraag [#ref]" in menus["nl"]["aanvraag"]
    assert menus["fr"]["situation"] != menus["en"]["status"]


async def test_a_redelivered_update_has_no_second_effect(harness: Harness) -> None:
    h = harness
    await _declared(h)
    card = h.card(h.ops)
    message = await h.sim.send_text(h.responder, h.ops, "Deux blessés légers", reply_to=card)
    await h.settle()
    update_id = h.sim.world.updates.last_id
    # Telegram redelivers an update whose confirmation was lost
    h.sim.post_update({"update_id": update_id, "message": message.to_dict()})
    await h.settle()
    entries = await incidents.timeline(h.runtime.db, 1, last=50)
    assert [e.text for e in entries].count("Deux blessés légers") == 1


async def test_restart_on_the_same_database_keeps_editing_the_same_card(
    harness: Harness,
) -> None:
    h = harness
    await _declared(h)
    card_id = h.card(h.ops).message_id
    await h.stop()
    await h.start()
    await h.say(h.responder, h.ops, "Après redémarrage : vent d'ouest", reply_to=card_id)
    card = h.card(h.ops)
    assert card.message_id == card_id
    assert "Après redémarrage : vent d'ouest" in (card.text or "")
    assert len([m for m in h.sim.bot_messages(h.ops) if "#1 Fuite" in (m.text or "")]) == 1


async def test_a_deleted_card_is_posted_again_and_pinned(harness: Harness) -> None:
    h = harness
    await _declared(h)
    old = h.card(h.ops)
    old.deleted = True  # someone deleted the card in the group
    await h.say(h.commander, h.ops, "/log Périmètre de 500 m établi")
    new = h.card(h.ops)
    assert new.message_id != old.message_id
    assert "Périmètre de 500 m établi" in (new.text or "")
    # replies to the new card reach the timeline
    await h.say(h.responder, h.ops, "Vent faible d'ouest", reply_to=new)
    assert "Vent faible d'ouest" in (h.card(h.ops).text or "")


async def test_log_without_text_or_incident_is_explained(harness: Harness) -> None:
    h = harness
    await h.say(h.responder, h.ops, "/log rien")
    assert h.last_text(h.ops).startswith("⛔")  # no open incident here
    await _declared(h)
    await h.say(h.responder, h.ops, "/log")
    assert h.last_text(h.ops).startswith("⛔")
    await h.say(h.responder, h.ops, "/log #99 quelque chose")
    assert "#99" in h.last_text(h.ops)
    assert [e.kind.value for e in await incidents.timeline(h.runtime.db, 1, 50)] == ["declared"]


async def test_an_unexpected_failure_is_reported_and_the_bot_keeps_going(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    await _declared(h)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(incidents, "close", broken)
    await h.say(h.commander, h.ops, "/close")
    text = h.last_text(h.ops)
    assert text.startswith("⚠️") and "disk on fire" not in text and "Traceback" not in text
    monkeypatch.undo()
    await h.say(h.commander, h.ops, "/close")
    incident = await incidents.get(h.runtime.db, 1)
    assert incident is not None and not incident.is_open
