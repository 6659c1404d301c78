"""The permission matrix: every command, button and message kind × every role × a registered
group, an unregistered group and a private chat, driven end to end through the stand-in.

The expected outcome of every cell is written in `EXPECTED` below:

- done:           it happened (or, for a question, it was answered), no refusal
- refused:        a refusal (⛔) in the reader's language, nothing changed
- wrong-place:    "this command works in an incident's group" (or in private), nothing changed
- not-registered: the chat's id for an admin, nothing stored, nothing about any incident
- contact:        a stranger in private gets the press contact line, nothing else
- silent:         no answer at all, nothing changed

Whatever the outcome, nothing about any incident reaches an unregistered chat or a stranger.
Run with PERMISSIONS_DISCOVER=1 to print the observed table instead of asserting it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import handlers
from bot.alerts import service as alerts
from bot.core.i18n import translator
from bot.core.models import Assignment, Author, Severity
from bot.incidents import service as incidents
from bot.resources import roster_csv
from bot.simulator import SimChat, SimUser, TelegramSimulator
from bot.statements import service as media
from tests.harness import Harness
from tests.units import once

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROLES = ("none", "responder", "commander", "liaison", "spokesperson", "admin")
PLACES = ("group", "unregistered", "private")
STRANGERS = iter(range(20_000, 30_000))  # "none": a new person in every cell, never seen
TITLE = "Matrice-secrète"  # every incident's title: must never reach a stranger

ROSTER = """\
code,type,name,agency,country,lat,lon,capacity,status
BE-WAPI-AMB-1,ambulance,Ambulance Tournai 1,ZS WAPI,BE,50.6071,3.3894,1,available
FR-SDIS59-VSAV-1,ambulance,VSAV Tourcoing 1,SDIS 59,FR,50.7239,3.1612,1,available
"""

# What each probe sends; {ref} is a fresh open incident of the group, {alert} an alert sent to
# the group, {statement} a fresh draft for the incident's spokesperson.
PROBES: dict[str, str] = {
    "/start": "/start",
    "/help": "/help",
    "/incident": "/incident Feu de talus",
    "/exercise": "/exercise Exercice plan rouge",
    "/log": "/log #{ref} Point de situation",
    "/status": "/status",
    "/timeline": "/timeline #{ref}",
    "/set": "/set #{ref} gravité sévère",
    "/assign": "/assign #{ref} liaison @svandamme",
    "/close": "/close #{ref}",
    "/request": "/request 1 ambulance #{ref}",
    "/release": "/release BE-WAPI-AMB-1",
    "/cancel": "/cancel #{ref}",
    "/roster": "/roster",
    "/unit": "/unit BE-WAPI-AMB-1",
    "/rollcall": "/rollcall",
    "/alert": "/alert Nuage toxique vers Mouscron",
    "/alerts": "/alerts",
    "/cap": "/cap {alert}",
    "/statement": "/statement #{ref} Fuite maîtrisée",
    "/escalate": "/escalate #{ref} BE",
    "/deescalate": "/deescalate #{ref} BE",
    "/sites": "/sites #{ref}",
    "/map": "/map #{ref}",
    "/report": "/report #{ref}",
    "/lang": "/lang fr",
    "/board": "/board",
    "/start board": "/start board_{ref}",
    "unknown command": "/incidnet Feu de talus",
    # buttons: callback data
    "button status": "i1:{ref}:st:act",
    "button severity": "i1:{ref}:sv:3",
    "button acknowledge": "a1:{alert}:ack",
    "button approve statement": "s1:{statement}:1:ok",
    "button commit offer": "r1:999999:c",
    "button unit status": "u1:1:un",
    "button roll-call": "rc1:all",
    "button place": "g1:{ref}:0",
    "button rating": "e1:{ref}:5",
    "button timeline page": "t1:{ref}:2",  # on a message that is no page of it
    "button forged": "zz:{ref}:boom",
    # messages
    "reply to card": "reply: Deux blessés",
    "location on card": "location",
}

D, R, W, N, C, S = "done", "refused", "wrong-place", "not-registered", "contact", "silent"

# Every cell, written out.
EXPECTED: dict[tuple[str, str], tuple[str, ...]] = {
    # (probe, place): (none, responder, commander, liaison, spokesperson, admin)
    ("/start", "group"): (D, D, D, D, D, D),
    ("/start", "unregistered"): (N, N, N, N, N, N),
    ("/start", "private"): (C, D, D, D, D, D),
    ("/help", "group"): (D, D, D, D, D, D),
    ("/help", "unregistered"): (N, N, N, N, N, N),
    ("/help", "private"): (C, D, D, D, D, D),
    ("/incident", "group"): (R, R, D, R, R, D),
    ("/incident", "unregistered"): (N, N, N, N, N, N),
    ("/incident", "private"): (C, W, W, W, W, W),
    ("/exercise", "group"): (R, R, D, R, R, D),
    ("/exercise", "unregistered"): (N, N, N, N, N, N),
    ("/exercise", "private"): (C, W, W, W, W, W),
    ("/log", "group"): (D, D, D, D, D, D),
    ("/log", "unregistered"): (N, N, N, N, N, N),
    ("/log", "private"): (C, W, W, W, W, W),
    ("/status", "group"): (R, R, D, D, R, D),
    ("/status", "unregistered"): (N, N, N, N, N, N),
    ("/status", "private"): (C, R, D, D, R, D),
    ("/timeline", "group"): (D, D, D, D, D, D),
    ("/timeline", "unregistered"): (N, N, N, N, N, N),
    ("/timeline", "private"): (C, R, D, D, R, D),
    ("/set", "group"): (R, R, D, R, R, D),
    ("/set", "unregistered"): (N, N, N, N, N, N),
    ("/set", "private"): (C, R, D, R, R, D),
    ("/assign", "group"): (R, R, D, R, R, D),
    ("/assign", "unregistered"): (N, N, N, N, N, N),
    ("/assign", "private"): (C, R, D, R, R, D),
    ("/close", "group"): (R, R, D, R, R, D),
    ("/close", "unregistered"): (N, N, N, N, N, N),
    ("/close", "private"): (C, R, D, R, R, D),
    ("/request", "group"): (R, R, D, R, R, D),
    ("/request", "unregistered"): (N, N, N, N, N, N),
    ("/request", "private"): (C, W, W, W, W, W),
    ("/release", "group"): (R, R, R, R, R, R),  # nothing is committed: everyone is told why
    ("/release", "unregistered"): (N, N, N, N, N, N),
    ("/release", "private"): (C, W, W, W, W, W),
    ("/cancel", "group"): (R, R, R, R, R, R),  # no open request: everyone is told why
    ("/cancel", "unregistered"): (N, N, N, N, N, N),
    ("/cancel", "private"): (C, W, W, W, W, W),
    ("/roster", "group"): (D, D, D, D, D, D),
    ("/roster", "unregistered"): (N, N, N, N, N, N),
    ("/roster", "private"): (C, D, D, D, D, D),
    ("/unit", "group"): (D, D, D, D, D, D),
    ("/unit", "unregistered"): (N, N, N, N, N, N),
    ("/unit", "private"): (C, D, D, D, D, D),
    ("/rollcall", "group"): (R, R, R, R, R, R),  # the roll-call is for an agency's own chat
    ("/rollcall", "unregistered"): (N, N, N, N, N, N),
    ("/rollcall", "private"): (C, W, W, W, W, W),
    ("/alert", "group"): (R, R, R, D, R, D),
    ("/alert", "unregistered"): (N, N, N, N, N, N),
    ("/alert", "private"): (C, R, R, D, R, D),
    ("/alerts", "group"): (R, R, D, D, R, D),
    ("/alerts", "unregistered"): (N, N, N, N, N, N),
    ("/alerts", "private"): (C, R, D, D, R, D),
    ("/cap", "group"): (R, R, R, D, R, D),
    ("/cap", "unregistered"): (N, N, N, N, N, N),
    ("/cap", "private"): (C, R, R, D, R, D),
    ("/statement", "group"): (R, R, D, D, D, D),
    ("/statement", "unregistered"): (N, N, N, N, N, N),
    ("/statement", "private"): (C, R, D, D, D, D),
    ("/escalate", "group"): (R, R, D, R, R, D),
    ("/escalate", "unregistered"): (N, N, N, N, N, N),
    ("/escalate", "private"): (C, R, D, R, R, D),
    ("/deescalate", "group"): (
        R,
        R,
        R,
        R,
        R,
        R,
    ),  # the phase is at its lowest: commanders are told so
    ("/deescalate", "unregistered"): (N, N, N, N, N, N),
    ("/deescalate", "private"): (C, R, R, R, R, R),  # the same
    ("/sites", "group"): (D, D, D, D, D, D),
    ("/sites", "unregistered"): (N, N, N, N, N, N),
    ("/sites", "private"): (C, D, D, D, D, D),
    ("/map", "group"): (D, D, D, D, D, D),
    ("/map", "unregistered"): (N, N, N, N, N, N),
    ("/map", "private"): (C, D, D, D, D, D),
    ("/report", "group"): (R, R, D, D, R, D),
    ("/report", "unregistered"): (N, N, N, N, N, N),
    ("/report", "private"): (C, R, D, D, R, D),
    ("/lang", "group"): (R, R, R, R, R, D),
    ("/lang", "unregistered"): (N, N, N, N, N, N),
    ("/lang", "private"): (C, D, D, D, D, D),
    # the situation board: a personal link, in private only (anyone the bot knows)
    ("/board", "group"): (W, W, W, W, W, W),
    ("/board", "unregistered"): (N, N, N, N, N, N),
    ("/board", "private"): (C, D, D, D, D, D),
    # the card's deep link: in a group it is the welcome; in private the board's web_app button
    # for who may see the incident (by now everyone has written on the group's timeline)
    ("/start board", "group"): (D, D, D, D, D, D),
    ("/start board", "unregistered"): (N, N, N, N, N, N),
    ("/start board", "private"): (C, D, D, D, D, D),
    # a command Passerelle does not know: said so, with /help, to anyone it answers
    ("unknown command", "group"): (R, R, R, R, R, R),
    ("unknown command", "unregistered"): (N, N, N, N, N, N),
    ("unknown command", "private"): (C, R, R, R, R, R),
    ("button status", "group"): (R, R, D, R, R, D),
    ("button status", "unregistered"): (N, N, N, N, N, N),
    ("button status", "private"): (S, R, R, R, R, R),
    ("button severity", "group"): (R, R, D, R, R, D),
    ("button severity", "unregistered"): (N, N, N, N, N, N),
    ("button severity", "private"): (S, R, R, R, R, R),
    ("button acknowledge", "group"): (D, D, D, D, D, D),
    ("button acknowledge", "unregistered"): (N, N, N, N, N, N),
    ("button acknowledge", "private"): (S, R, R, R, R, R),
    ("button approve statement", "group"): (R, R, R, R, D, R),  # only the incident's spokesperson
    ("button approve statement", "unregistered"): (N, N, N, N, N, N),
    ("button approve statement", "private"): (S, R, R, R, D, R),
    ("button commit offer", "group"): (R, R, R, R, R, R),  # no such offer (a forged one)
    ("button commit offer", "unregistered"): (N, N, N, N, N, N),
    ("button commit offer", "private"): (S, R, R, R, R, R),
    ("button unit status", "group"): (R, R, R, R, R, D),  # a unit's own agency, or an admin
    ("button unit status", "unregistered"): (N, N, N, N, N, N),
    ("button unit status", "private"): (S, R, R, R, R, D),
    ("button roll-call", "group"): (R, R, R, R, R, R),  # not an agency chat
    ("button roll-call", "unregistered"): (N, N, N, N, N, N),
    ("button roll-call", "private"): (S, R, R, R, R, R),
    ("button place", "group"): (R, R, D, R, R, D),
    ("button place", "unregistered"): (N, N, N, N, N, N),
    ("button place", "private"): (S, R, R, R, R, R),
    ("button rating", "group"): (R, R, R, R, R, R),  # the incident is not closed
    ("button rating", "unregistered"): (N, N, N, N, N, N),
    ("button rating", "private"): (S, R, R, R, R, R),
    ("button timeline page", "group"): (R, R, R, R, R, R),
    ("button timeline page", "unregistered"): (N, N, N, N, N, N),
    ("button timeline page", "private"): (S, R, R, R, R, R),
    ("button forged", "group"): (R, R, R, R, R, R),  # data no handler knows
    ("button forged", "unregistered"): (N, N, N, N, N, N),
    ("button forged", "private"): (S, R, R, R, R, R),
    ("reply to card", "group"): (D, D, D, D, D, D),
    ("reply to card", "unregistered"): (S, S, S, S, S, S),
    ("reply to card", "private"): (C, S, S, S, S, S),
    ("location on card", "group"): (D, D, D, D, D, D),
    ("location on card", "unregistered"): (S, S, S, S, S, S),
    ("location on card", "private"): (C, S, S, S, S, S),
}
CELLS = [(probe, place, role) for probe in PROBES for place in PLACES for role in ROLES]


@dataclass
class World:
    h: Harness
    users: dict[str, SimUser]
    unregistered: SimChat
    observed: dict[tuple[str, str, str], str]
    values: dict[str, Any] | None = None  # the current fresh incident, alert and draft


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    sim = TelegramSimulator(token="123456:TEST-token", bot_username="passerelle_test_bot")
    await sim.start()
    path = tmp_path_factory.mktemp("matrix") / "matrix.db"
    h = Harness(
        sim,
        path,
        agencies=True,
        telegram={"token": "123456:TEST-token", "poll_timeout": 1, "rate_limit": False},
        cards={"min_edit_interval": 0.0, "timeline_entries": 5},
        alerts={"kinds": ["operations"], "countries": ["BE"]},
    )
    await h.start()
    await roster_csv.import_roster(h.runtime.db, ROSTER)
    users = {
        "none": h.responder,  # replaced by a new person in each cell
        "responder": h.responder,
        "commander": h.commander,
        "liaison": h.liaison,
        "spokesperson": h.spokesperson,
        "admin": h.admin,
    }
    # everyone but the stranger has written in the group and opened a private chat
    for role, user in users.items():
        if role != "none":
            await h.say(user, h.ops, "Bonjour")
            await h.say(user, sim.private_chat(user), "/start")
    await h.say(h.commander, h.stranger_group, "/start")  # a bot message to press on
    world = World(h, users, h.stranger_group, {})
    yield world
    await h.stop()
    await sim.stop()
    if os.environ.get("PERMISSIONS_DISCOVER"):
        _print_table(world.observed)


def _print_table(observed: dict[tuple[str, str, str], str]) -> None:
    for probe in PROBES:
        for place in PLACES:
            row = tuple(observed.get((probe, place, role), "?") for role in ROLES)
            print(f"    e[({probe!r}, {place!r})] = {row}")


def _snapshot(path: Path, *, people: bool) -> dict[str, list[str]]:
    # the instances' heartbeats and leases are kept up to date by the clock, not by updates
    skip = {"processed_updates", "instances", "leases"}
    if not people:
        skip.add("people")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        tables = [
            r[0]
            # SQLite's own tables (sqlite_stat1, written by the upkeep's PRAGMA optimize) are
            # not the bot's state
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            if r[0] not in skip
        ]
        return {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}"))) for t in tables}


async def _fresh(w: World) -> dict[str, Any]:
    """A fresh open incident in the group (located, spokesperson named), an alert sent to the
    group, a draft waiting for the spokesperson; made again after a cell changed them."""
    if w.values is not None:
        return w.values
    h = w.h
    db = h.runtime.db
    ops = await _chat(h, h.ops.id)
    commander = Author(h.commander.id, "Marc Delattre")
    incident = await once(
        db,
        incidents.declare,
        chat=ops,
        title=TITLE,
        author=commander,
        exercise=False,
    )
    ref = incident.ref
    await once(
        db,
        incidents.change_severity,
        ref=ref,
        severity=Severity.MODERATE,
        author=commander,
        chat_id=ops.id,
    )
    await once(
        db,
        incidents.assign,
        ref=ref,
        assignment=Assignment.SPOKESPERSON,
        assignee=Author(h.spokesperson.id, "Pieter Claeys"),
        author=commander,
        chat_id=ops.id,
    )
    sent = await once(
        db,
        alerts.broadcast,
        author=Author(h.liaison.id, "Sophie Vandamme"),
        origin_chat_id=h.liaison_fr.id,
        severity=Severity.SEVERE,
        texts={"": TITLE},
        incident_ref=ref,
        config=h.runtime.settings.alerts,
    )
    await once(
        db,
        incidents.locate,
        ref=ref,
        lat=50.61,
        lon=3.39,
        author=commander,
        chat_id=ops.id,
        message_id=None,
    )
    draft = await once(
        db,
        media.propose,
        incident_ref=ref,
        author=commander,
        origin_chat_id=ops.id,
        texts={"": TITLE},
    )
    await h.runtime.live.catch_up()
    await _settle(h)
    w.values = {"ref": ref, "alert": sent.id, "statement": draft.id}
    return w.values


async def _chat(h: Harness, chat_id: int) -> Any:
    from bot.core.directory import get_chat

    chat = await get_chat(h.runtime.db, chat_id)
    assert chat is not None
    return chat


def _where(w: World, place: str, user: SimUser) -> SimChat:
    if place == "group":
        return w.h.ops
    if place == "unregistered":
        return w.unregistered
    return w.h.sim.private_chat(user)


async def _settle(h: Harness) -> None:
    """Harness.settle, leaner: the matrix runs hundreds of cells."""
    assert h.app is not None
    updates = h.sim.world.updates
    await h.sim.wait_for(lambda: not updates.pending, timeout=10, interval=0.002)
    await h.app.update_queue.join()
    await h.runtime.outbox.drained()
    await h.runtime.live.idle()
    await h.runtime.db.flush()


def _translated(*messages: str) -> list[str]:
    return [translator(lang).gettext(m) for m in messages for lang in ("en", "fr", "nl")]


WRONG_PLACE = _translated(
    "This command works in an incident's group chat.",
    "This command works in a private chat with me.",
)
STALE = _translated("This button is no longer valid.")
CONTACT = _translated(
    "Passerelle is a coordination tool of the emergency services. Journalists: please contact "
    "the press office of the authority in charge (mayor's office, prefecture or governor)."
)


def _classify(texts: list[str], toast: str | None, changed: bool, not_registered: bool) -> str:
    said = [*texts, *([toast] if toast else [])]
    if not_registered:
        return N
    if any(t.startswith("⛔") for t in said) or toast in STALE:
        return R
    if any(w in t for t in texts for w in WRONG_PLACE):
        return W
    if texts and all(t in CONTACT for t in texts):
        return C
    if said or changed:
        return D
    return S


@pytest.mark.parametrize(("probe", "place", "role"), CELLS)
async def test_permission_matrix(world: World, probe: str, place: str, role: str) -> None:
    w, h, sim = world, world.h, world.h.sim
    user = w.users[role]
    if role == "none":
        user_id = next(STRANGERS)
        user = sim.add_user(user_id, "Inconnu", username=f"u{user_id}", language_code="fr")
        for group in (h.ops, w.unregistered):
            group.members[user_id] = "member"
    chat = _where(w, place, user)
    values = await _fresh(w)
    if role == "none" and place == "private" and probe.startswith("button"):
        await h.say(user, chat, "/start")  # a message of the bot's to press on
    before = _snapshot(h.db_path, people=place != "group")
    first_message = max(chat.messages, default=0)
    calls = len(sim.calls)
    spec = PROBES[probe].format(**values)
    toast: str | None = None
    if probe.startswith("button"):
        target = sim.last_bot_message(chat) or sim.bot_messages(chat, include_service=True)[-1]
        query = await sim.press(user, chat, target, spec, forged=True)
        await _settle(h)
        answer = sim.callback_answers.get(query)
        toast = answer.text if answer is not None else None
    elif probe == "reply to card" or probe == "location on card":
        card = sim.last_bot_message(chat)
        if place == "group":
            card = sim.message(chat, await _card_id(h, values["ref"]))
        if probe == "reply to card":
            await sim.send_text(user, chat, spec.removeprefix("reply: "), reply_to=card)
        else:
            await sim.send_location(user, chat, 50.61, 3.39, reply_to=card)
        await _settle(h)
    else:
        await sim.send_text(user, chat, spec)
        await _settle(h)
    after = _snapshot(h.db_path, people=place != "group")
    if after != before:
        w.values = None  # the next cell gets a fresh incident
    replies = [m for m in chat.messages.values() if m.from_bot and m.message_id > first_message]
    texts = [m.text or m.caption or "" for m in replies]
    not_registered = place == "unregistered" and any(str(chat.id) in t for t in texts)
    outcome = _classify(texts, toast, after != before, not_registered)
    w.observed[(probe, place, role)] = outcome
    # nothing about any incident reaches an unregistered chat or a stranger
    if place == "unregistered" or (role == "none" and place == "private"):
        leaked = [c for c in sim.calls[calls:] if TITLE in repr(c.params)]
        assert leaked == [], leaked
        assert after == before
    if os.environ.get("PERMISSIONS_DISCOVER"):
        return
    expected = EXPECTED[(probe, place)][ROLES.index(role)]
    assert outcome == expected, (probe, place, role, texts, toast)
    if expected != D:
        assert after == before, f"{probe} by {role} in {place} changed the database"


async def _card_id(h: Harness, ref: int) -> int:
    async with h.runtime.db.read() as tx:
        row = await tx.one(
            "SELECT message_id FROM cards WHERE incident_id = ? AND chat_id = ?", (ref, h.ops.id)
        )
    assert row is not None and row["message_id"] is not None
    return int(row["message_id"])


async def test_the_table_covers_every_command_and_button() -> None:
    """A new command or button must be added to the matrix."""
    commands = {f"/{c.name}" for c in handlers.COMMANDS}
    assert commands <= set(PROBES), commands - set(PROBES)
    prefixes = {"i1", "a1", "s1", "r1", "u1", "rc1", "g1", "e1", "t1"}
    probed = {PROBES[p].split(":")[0] for p in PROBES if p.startswith("button")}
    assert prefixes <= probed
    assert set(EXPECTED) == {(p, place) for p in PROBES for place in PLACES}
