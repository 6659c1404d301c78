"""Bad input, end to end: random, huge and control-character arguments for every command,
other incidents' references, forged callback data. Every time: no unhandled error, a clear
answer in the reader's language, no change of state on a refusal, and nothing sent that
Telegram would refuse (more than 4096 characters, unbalanced HTML)."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from babel.messages.pofile import read_po
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import handlers
from bot.incidents import service as incidents
from bot.render.keyboards import offer_data, statement_data, status_data
from bot.resources import roster_csv
from bot.simulator import SimChat, SimUser, TelegramSimulator
from tests.harness import Harness

pytestmark = pytest.mark.asyncio(loop_scope="module")
ROOT = Path(__file__).resolve().parent.parent
MEDIA = -100600
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ROSTER = """\
code,type,name,agency,country,lat,lon,capacity,status
BE-WAPI-AMB-1,ambulance,Ambulance Tournai 1,ZS WAPI,BE,50.6071,3.3894,1,available
FR-SDIS59-VSAV-1,ambulance,VSAV Tourcoing 1,SDIS 59,FR,50.7239,3.1612,1,available
"""


def _french_refusals() -> list[tuple[re.Pattern[str], str]]:
    """Every French message of the catalog, its {placeholders} matching anything: a refusal in
    the French group must be one of them."""
    with (ROOT / "locales/fr/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po)
    patterns = []
    for message in catalog:
        if message.id and isinstance(message.string, str) and message.string:
            pieces = re.split(r"\{[^}]*\}", message.string)
            patterns.append((re.compile(".*".join(map(re.escape, pieces)), re.S), pieces[0]))
    return patterns


FRENCH = _french_refusals()


class Errors(logging.Handler):
    """Counts what the bot logs at ERROR or above (an unhandled exception in a handler, a
    message Telegram refused)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class World:
    def __init__(self, h: Harness, errors: Errors) -> None:
        self.h = h
        self.errors = errors


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    sim = TelegramSimulator(token="123456:TEST-token", bot_username="passerelle_test_bot")
    await sim.start()
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    from tests.conftest import settings_data

    chats = [
        *settings_data(path, agencies=True)["chats"],
        {
            "id": MEDIA,
            "name": "Presse",
            "kind": "media",
            "country": "BE",
            "languages": ["fr", "nl"],
        },
    ]
    h = Harness(
        sim,
        path,
        agencies=True,
        chats=chats,
        telegram={"token": "123456:TEST-token", "poll_timeout": 1, "rate_limit": False},
        cards={"min_edit_interval": 0.0, "timeline_entries": 5},
    )
    h.media = sim.add_chat(MEDIA, "channel", title="Presse", bot_status="administrator")  # type: ignore[attr-defined]
    errors = Errors()
    logging.getLogger().addHandler(errors)
    await h.start()
    await roster_csv.import_roster(h.runtime.db, ROSTER)
    for user in (h.commander, h.commander_fr, h.liaison, h.spokesperson, h.admin, h.responder):
        await h.say(user, sim.private_chat(user), "/start")
        await h.say(user, h.ops_fr, "Bonjour")
    # an incident in the bilingual group (another chat's, for the French group) and one here
    await h.say(h.commander, h.ops, "/incident Incident d'un autre groupe")
    await h.say(h.commander_fr, h.ops_fr, "/incident Feu de forêt, Mormal")
    await h.sim.send_location(h.commander_fr, h.ops_fr, 50.22, 3.76, reply_to=h.card(h.ops_fr))
    await h.say(h.commander_fr, h.ops_fr, "/assign porte-parole @pclaeys")
    yield World(h, errors)
    logging.getLogger().removeHandler(errors)
    await h.stop()
    await sim.stop()


def _snapshot(path: Path) -> dict[str, list[str]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        tables = [
            r[0]
            # SQLite's own tables (sqlite_stat1, written by the upkeep's PRAGMA optimize) are
            # not the bot's state
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            # nor are the instances' heartbeats and leases, kept up to date by the clock
            if r[0] not in ("processed_updates", "people", "instances", "leases")
        ]
        return {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}"))) for t in tables}


def _open_incident_of(path: Path, chat_id: int) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        row = conn.execute(
            "SELECT max(id) FROM incidents WHERE chat_id = ? AND status != 'closed'", (chat_id,)
        ).fetchone()
    return int(row[0])


class Watch:
    """What the bot did in response to one input."""

    def __init__(self, w: World, chat: SimChat) -> None:
        self.w, self.chat = w, chat
        self.calls = len(w.h.sim.calls)
        self.errors = len(w.errors.records)
        self.first = max(chat.messages, default=0)
        self.before = _snapshot(w.h.db_path)

    def replies(self) -> list[str]:
        return [
            m.text or m.caption or ""
            for m in self.chat.messages.values()
            if m.from_bot and m.message_id > self.first and not m.extra
        ]

    def check(self, *, refused_changes_nothing: bool = True) -> list[str]:
        h = self.w.h
        new_errors = self.w.errors.records[self.errors :]
        assert new_errors == [], [r.getMessage() for r in new_errors]
        refused = [
            (c.method, c.description)
            for c in h.sim.calls[self.calls :]
            if c.status == 400 and "not modified" not in (c.description or "")
        ]
        assert refused == [], refused  # nothing Telegram refuses: too long, broken HTML
        replies = self.replies()
        assert not any(r.startswith("⚠️") for r in replies), replies
        if refused_changes_nothing and any(r.startswith("⛔") for r in replies):
            assert _snapshot(h.db_path) == self.before, replies
        return replies


async def _settle(h: Harness) -> None:
    assert h.app is not None
    await h.sim.wait_for(lambda: not h.sim.world.updates.pending, timeout=20, interval=0.002)
    await h.app.update_queue.join()
    await h.runtime.outbox.drained()
    await h.runtime.live.idle()
    await h.runtime.db.flush()


COMMANDS = [f"/{name}" for c in handlers.COMMANDS for name in c.all_names]
HTML_LOOKALIKES = [
    "<b>",
    "</b>",
    '<a href="https://example.org">x</a>',
    "&amp;",
    "&lt;b&gt;",
    "&#60;",
    "&",
    "<",
    "<tg-spoiler>",
    "<code>",
]
WORDS = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=8),
    st.sampled_from(
        [
            *HTML_LOOKALIKES,
            "#1",
            "#2",
            "#999999999",
            "#0",
            "#-1",
            "#12345678901234567890",
            "BE-WAPI-AMB-1",
            "FR-SDIS59-VSAV-1",
            "ambulance",
            "sévère",
            "ernstig",
            "FR",
            "BE",
            "fr:",
            "| nl:",
            "\u0000",
            "\u202e",
            "\u200b",
            "\t",
            "\n",
            "😀" * 50,
        ]
    ),
    st.text(min_size=2000, max_size=5000).map(lambda s: s or "x"),
    st.just("&" * 3000),
)
ARGUMENTS = st.lists(WORDS, max_size=6).map(" ".join)
ROLE = st.sampled_from(["commander_fr", "responder", "liaison", "admin", "spokesperson"])


def _user(h: Harness, role: str) -> SimUser:
    user: SimUser = getattr(h, role)
    return user


@FUZZ
@given(command=st.sampled_from(COMMANDS), arguments=ARGUMENTS, role=ROLE, private=st.booleans())
async def test_any_arguments_to_any_command(
    world: World, command: str, arguments: str, role: str, private: bool
) -> None:
    h = world.h
    user = _user(h, role)
    chat = h.sim.private_chat(user) if private else h.ops_fr
    watch = Watch(world, chat)
    await h.sim.send_text(user, chat, f"{command} {arguments}"[:4096])
    await _settle(h)
    replies = watch.check(refused_changes_nothing=command != "/lang")
    for reply in replies:
        if reply.startswith("⛔") and chat is h.ops_fr:
            # in the French group, in French: a message of the French catalog
            said = reply.removeprefix("⛔").strip()
            if said.endswith("…"):  # shortened to fit one message: its start, then
                assert any(start and said.startswith(start) for _, start in FRENCH), reply
            else:
                assert any(p.fullmatch(said) for p, _ in FRENCH), reply


CALLBACK_DATA = st.one_of(
    st.text(max_size=64).filter(lambda s: 0 < len(s.encode()) <= 64),
    st.builds(
        lambda prefix, a, b, c: f"{prefix}:{a}:{b}:{c}"[:64],
        st.sampled_from(["i1", "a1", "s1", "r1", "u1", "rc1", "g1", "e1", "zz"]),
        st.one_of(st.integers(-5, 10**12).map(str), st.sampled_from(["", "all", "x", "1e3"])),
        st.sampled_from(["st", "sv", "ack", "ok", "no", "ed", "c", "d", "1", "", "💥"]),
        st.sampled_from(["act", "con", "clo", "1", "3", "4", "9", "", "ok"]),
    ),
)


@FUZZ
@given(data=CALLBACK_DATA, private=st.booleans())
async def test_forged_callback_data_is_answered_and_changes_nothing(
    world: World, data: str, private: bool
) -> None:
    h = world.h
    user = h.responder  # may press nothing that changes state here
    chat = h.sim.private_chat(user) if private else h.ops_fr
    message = h.sim.last_bot_message(chat)
    assert message is not None
    watch = Watch(world, chat)
    query = await h.sim.press(user, chat, message, data, forged=True)
    await _settle(h)
    watch.check()
    assert _snapshot(h.db_path) == watch.before
    answer = h.sim.callback_answers.get(query)
    assert answer is not None, data  # no button is left spinning


async def _fresh_incident(h: Harness, title: str) -> int:
    """An incident of its own for a deterministic test (the fuzzing left others behind)."""
    await h.say(h.commander_fr, h.ops_fr, f"/incident {title}")
    await h.sim.send_location(h.commander_fr, h.ops_fr, 50.60, 3.39, reply_to=h.card(h.ops_fr))
    await _settle(h)
    ref = _open_incident_of(h.db_path, h.ops_fr.id)
    await h.say(h.commander_fr, h.ops_fr, f"/assign #{ref} porte-parole @pclaeys")
    return ref


async def test_committing_another_agencys_unit_is_refused(world: World) -> None:
    h = world.h
    ref = await _fresh_incident(h, "Collision sur l'A22")
    await h.say(h.commander_fr, h.ops_fr, f"/request 2 ambulance #{ref}")
    offers = [
        (m, d)
        for m in h.sim.bot_messages(h.agency_wapi)  # type: ignore[attr-defined]
        for d in m.callback_data
        if d.startswith("r1:") and d.endswith(":c")
    ]
    assert offers, h.sim.dump()
    _, data = offers[-1]
    # the SDIS 59 duty officer, in his own agency's chat, presses WAPI's offer (forged)
    chat: SimChat = h.agency_sdis59  # type: ignore[attr-defined]
    target = h.sim.last_bot_message(chat)
    assert target is not None
    watch = Watch(world, chat)
    query = await h.sim.press(h.duty_sdis59, chat, target, data, forged=True)  # type: ignore[attr-defined]
    await _settle(h)
    watch.check()
    assert _snapshot(h.db_path) == watch.before
    answer = h.sim.callback_answers[query]
    assert answer.show_alert and answer.text and answer.text.startswith("⛔"), answer
    assert offer_data(int(data.split(":")[1]), "c") == data


async def test_approving_a_statement_as_someone_else_is_refused(world: World) -> None:
    h = world.h
    ref = await _fresh_incident(h, "Fuite de gaz")
    await h.say(h.commander_fr, h.ops_fr, f"/statement #{ref} Communiqué à valider")
    async with h.runtime.db.read() as tx:
        row = await tx.one("SELECT max(id) AS id FROM statements")
    assert row is not None
    data = statement_data(row["id"], 1, "ok")
    for user in (h.commander_fr, h.liaison, h.admin, h.responder):
        chat = h.sim.private_chat(user)
        target = h.sim.last_bot_message(chat)
        assert target is not None
        watch = Watch(world, chat)
        query = await h.sim.press(user, chat, target, data, forged=True)
        await _settle(h)
        watch.check()
        assert _snapshot(h.db_path) == watch.before
        assert (h.sim.callback_answers[query].text or "").startswith("⛔")
    # nothing of this draft reached the press (a statement an earlier test of this shared
    # world published may still arrive there, paced by the outbox)
    published = [m.text or "" for m in h.sim.bot_messages(h.media)]  # type: ignore[attr-defined]
    assert not any("Communiqué à valider" in text for text in published)


async def test_a_button_of_a_closed_incident_changes_nothing(world: World) -> None:
    h = world.h
    await h.say(h.commander_fr, h.ops_fr, "/incident Incident bientôt clos")
    card = h.card(h.ops_fr)
    ref = _open_incident_of(h.db_path, h.ops_fr.id)
    await h.say(h.commander_fr, h.ops_fr, f"/close #{ref}")
    watch = Watch(world, h.ops_fr)
    query = await h.sim.press(
        h.commander_fr,
        h.ops_fr,
        card,
        status_data(ref, incidents.IncidentStatus.ACTIVE),
        forged=True,
    )
    await _settle(h)
    watch.check()
    assert _snapshot(h.db_path) == watch.before
    assert h.sim.callback_answers[query].text
    # the group keeps working with a new incident
    await h.say(h.commander_fr, h.ops_fr, "/incident Feu de forêt, reprise")


async def test_what_users_type_is_shown_as_text(world: World) -> None:
    h = world.h
    typed = (
        'Voir <b>ici</b> <a href="https://example.org/x?a=1&b=2">lien</a> & &amp; &lt;i&gt; '
        "&#60;code&#62; <tg-spoiler>secret</tg-spoiler>"
    )
    await h.say(h.commander_fr, h.ops_fr, "/incident Incident du texte")
    await h.say(h.responder, h.ops_fr, typed, reply_to=h.card(h.ops_fr))
    card = h.card(h.ops_fr)
    assert typed in (card.text or "")  # literally, as typed
    assert not any(e.get("type") in ("text_link", "spoiler") for e in card.entities)


async def test_long_cards_and_statements_fit_telegram(world: World) -> None:
    h = world.h
    # a bilingual card carries everything twice: long fields and notes must still fit
    watch = Watch(world, h.ops)
    await h.say(h.commander, h.ops, "/incident " + "Très long titre & " * 11)
    for field in ("type", "lieu"):
        await h.say(h.commander, h.ops, f"/set {field} " + "<&>é😀" * 55)
    for _ in range(6):
        await h.say(h.responder, h.ops, "&<>😀" * 500, reply_to=h.card(h.ops))
    assert not any(r.startswith("⛔") for r in watch.check(refused_changes_nothing=False))
    card = h.card(h.ops)
    assert "Très long titre" in (card.text or "")
    assert (card.text or "").count("&<>😀" * 10) >= 2  # the latest notes, in both languages
    watch = Watch(world, h.ops_fr)
    # a bilingual statement of 2 × 3,000 characters reaches the bilingual media chat in parts
    await h.say(h.commander_fr, h.ops_fr, "/assign porte-parole @pclaeys")
    await h.say(h.spokesperson, h.ops_fr, "/statement fr: " + "é&" * 1500 + " | nl: " + "ë<" * 1500)
    published = h.sim.bot_messages(h.media)  # type: ignore[attr-defined]
    assert len(published) >= 2
    text = "".join(m.text or "" for m in published)
    assert text.count("é&") == 1500 and text.count("ë<") == 1500
    watch.check(refused_changes_nothing=False)
