"""The crash harness: the bot as a separate process (`python -m bot`) against the stand-in,
a scripted multi-incident scenario, and SIGKILL at random moments, restarting each time on
the same database.

    python -m tests.reliability.crash_harness --updates 2000 --kills 20 [--seed 7]

The stand-in runs in this process; the bot reads its configuration from a temporary TOML
file. Users declare incidents in four operations groups, reply to the cards, share
locations, type /log and /status, press the card's buttons, name the spokesperson, who
publishes statements to the media; the liaison alerts 50 agency chats, whose duty officers
acknowledge (sometimes twice); commanders request ambulances, and the agencies commit their
units (sometimes pressing twice) or decline; commanders close their incidents, which releases
their units and asks for the after-action evaluations. Between the updates, at seeded random
moments, the bot is killed with SIGKILL and started again: half the kills come a few
milliseconds after a getUpdates handed the bot a batch (its units of work being stored), a
quarter right after a /close (within 150 ms), the rest at random once the bot is at work.

"Confirmed by Telegram" is the stand-in's getUpdates offset: an update is confirmed when the
bot asks for updates with a higher offset, and the stand-in forgets it. Right after each
kill, every confirmed update must have its whole effect in the database (a closed incident
has its evaluation question, no open request and no unit still committed); at the end: no timeline
entry, commitment or acknowledgement is doubled, every alert, statement and offer reached
every target (duplicates counted: at most one per kill), every evaluation question reached its
chat, and every card shows the final state. The counts are printed; any failure exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.db import Database, PostgresDatabase, SqliteDatabase, Tx
from bot.core.effects import Live, LiveKind
from bot.simulator import SimChat, SimMessage, TelegramSimulator
from bot.situation.card import CardView
from tests import backends

TOKEN = "424242:CRASH-harness-token"
OPS = [-100700 - g for g in range(4)]
LIAISON_CHAT = -100800
MEDIA_CHAT = -100801
AGENCIES = 50
AGENCY_CHATS = [-100900 - i for i in range(AGENCIES)]
COMMANDERS = [7000 + g for g in range(4)]
SPOKESPERSON = 7100
LIAISON = 7101
RESPONDERS = [8000 + r for r in range(12)]
DUTY = [9000 + i for i in range(AGENCIES)]
# messages the bot may have sent but not yet recorded when it is killed: the outbox sender's
# deliveries at once (bot.outbox.OutboxSender's concurrency), plus one card post
IN_FLIGHT = 8 + 1


@dataclass
class Expect:
    """What one update must have done, checked against the database."""

    update_id: int
    kind: str  # declare, note, location, assign, close, alert, ack, statement, request, decide
    key: Any


@dataclass
class Incident:
    uid: str
    chat: int
    ref: int | None = None
    steps_left: int = 0
    assigned: bool = False
    located: bool = False


@dataclass
class Counts:
    updates: int = 0
    kills: int = 0
    checks_after_kill: int = 0
    missing_after_kill: int = 0
    confirmed: int = 0
    expectations: int = 0
    missing_at_end: int = 0
    doubled_timeline: int = 0
    doubled_commitments: int = 0
    over_committed_requests: int = 0
    doubled_acks: int = 0
    alerts: int = 0
    alert_deliveries: int = 0
    alert_missing: int = 0
    alert_duplicates: int = 0
    statements: int = 0
    statement_missing: int = 0
    statement_duplicates: int = 0
    offers: int = 0
    offer_missing: int = 0
    offer_duplicates: int = 0
    commits: int = 0
    acks: int = 0
    closes: int = 0
    close_kills: int = 0
    batch_kills: int = 0
    evaluations: int = 0
    evaluation_missing: int = 0
    evaluation_duplicates: int = 0
    cards: int = 0
    cards_stale: int = 0
    card_duplicates: int = 0
    outbox_not_sent: int = 0
    token_in_log: int = 0
    # repeated messages per chat: the sender sends one message at a time to a chat, so a crash
    # repeats at most one per chat; in all, at most as many as were being sent (IN_FLIGHT)
    repeated_per_chat: dict[int, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def repeat(self, chat_id: int, times: int) -> None:
        if times > 0:
            self.repeated_per_chat[chat_id] = self.repeated_per_chat.get(chat_id, 0) + times

    @property
    def repeated(self) -> int:
        return (
            self.alert_duplicates
            + self.statement_duplicates
            + self.offer_duplicates
            + self.card_duplicates
        )

    def ok(self) -> bool:
        return (
            self.missing_after_kill == 0
            and self.missing_at_end == 0
            and self.doubled_timeline == 0
            and self.doubled_commitments == 0
            and self.over_committed_requests == 0
            and self.doubled_acks == 0
            and self.alert_missing == 0
            and self.statement_missing == 0
            and self.offer_missing == 0
            and self.evaluation_missing == 0
            and self.cards_stale == 0
            and self.outbox_not_sent == 0
            and self.token_in_log == 0
            and max(self.repeated_per_chat.values(), default=0) <= self.kills
            and self.repeated <= IN_FLIGHT * self.kills
        )


# --- configuration ---------------------------------------------------------------------------


def _config(
    sim: TelegramSimulator, db_path: Path, url: str | None = None, instance: str | None = "crash"
) -> str:
    """The bot's configuration: its database at `db_path`, or on the PostgreSQL server at
    `url` (then `path` only places the evidence folder); [storage] is two lines at most.
    `instance`: its [instance] name (None: none given)."""
    chats: list[dict[str, Any]] = [
        {
            "id": chat,
            "name": f"Ops {g}",
            "kind": "operations",
            "country": "BE" if g % 2 else "FR",
            "languages": ["fr", "nl"] if g % 2 else ["fr"],
        }
        for g, chat in enumerate(OPS)
    ]
    chats.append(
        {
            "id": LIAISON_CHAT,
            "name": "CODIS",
            "kind": "liaison",
            "country": "FR",
            "languages": ["fr"],
        }
    )
    chats.append(
        {"id": MEDIA_CHAT, "name": "Presse", "kind": "media", "country": "BE", "languages": ["fr"]}
    )
    for i, chat in enumerate(AGENCY_CHATS):
        chats.append(
            {
                "id": chat,
                "name": f"Agence {i}",
                "kind": "agency",
                "country": "BE" if i % 2 else "FR",
                "languages": [["fr"], ["nl"], ["fr", "nl"]][i % 3],
                "agency": f"Agence {i}",
            }
        )
    people: list[dict[str, Any]] = [
        {"id": c, "name": f"Commandant {g}", "roles": ["commander"], "language": "fr"}
        for g, c in enumerate(COMMANDERS)
    ]
    people.append(
        {
            "id": SPOKESPERSON,
            "name": "Porte-parole",
            "username": "porteparole",
            "roles": ["spokesperson"],
            "language": "fr",
        }
    )
    people.append({"id": LIAISON, "name": "Liaison", "roles": ["liaison"], "language": "fr"})
    for i, person in enumerate(DUTY):
        people.append(
            {
                "id": person,
                "name": f"Permanence {i}",
                "agency": f"Agence {i}",
                "country": "BE" if i % 2 else "FR",
                "language": "nl" if i % 3 == 1 else "fr",
            }
        )

    def toml_value(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = [
        "[telegram]",
        f"token = {toml_value(TOKEN)}",
        f"base_url = {toml_value(sim.base_url)}",
        f"base_file_url = {toml_value(sim.base_file_url)}",
        "poll_timeout = 1",
        # the stand-in enforces no flood limits here: pacing would only slow the run
        "rate_limit = false",
        "[storage]",
        f"path = {toml_value(str(db_path))}",
        *([f"url = {toml_value(url)}"] if url else []),
        # one instance restarted under its own name (as a service manager does): it takes its
        # polling lease and outbox claims back at once instead of waiting for them to run out
        *(["[instance]", f"name = {toml_value(instance)}"] if instance else []),
        "[i18n]",
        'default_language = "fr"',
        "[cards]",
        "min_edit_interval = 0.1",
        "[alerts]",
        'kinds = ["agency"]',
        "reminder_minutes = 1440",
        "[requests]",
        "offer_timeout_minutes = 600",
        "extra_offers = 1",
        "[roster]",
        'rollcall_time = ""',
    ]
    for chat in chats:
        lines.append("[[chats]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in chat.items()]
    for person in people:
        lines.append("[[people]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in person.items()]
    return "\n".join(lines) + "\n"


def _roster() -> str:
    rows = ["code,type,name,agency,country,lat,lon,capacity,status"]
    for i in range(AGENCIES):
        lat = 50.55 + (i % 10) * 0.02
        lon = 3.20 + (i // 10) * 0.05
        rows.append(
            f"AMB-{i},ambulance,Ambulance {i},Agence {i},{'BE' if i % 2 else 'FR'},"
            f"{lat:.4f},{lon:.4f},1,available"
        )
    return "\n".join(rows) + "\n"


# --- the bot process -------------------------------------------------------------------------


class Bot:
    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self, prelude: str = "") -> None:
        """`python -m bot`; `prelude`: Python run in the bot's process first (a test's crash
        point)."""
        arguments = ["--config", str(self.config), "--log-level", "INFO"]
        if prelude:
            command = [
                "-c",
                f"{prelude}\nimport runpy, sys\nsys.argv = ['bot', *{arguments!r}]\n"
                "runpy.run_module('bot', run_name='__main__')",
            ]
        else:
            command = ["-m", "bot", *arguments]
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, *command, stdout=out, stderr=out
            )
        self.starts += 1

    async def exited(self, timeout: float) -> int:  # noqa: ASYNC109
        """Wait for the process to end by itself; its exit code."""
        assert self.process is not None
        async with asyncio.timeout(timeout):
            code = await self.process.wait()
        self.process = None
        return code

    async def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        await self.process.wait()
        self.process = None

    async def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(30):
                await self.process.wait()
        except TimeoutError:
            await self.kill()
        self.process = None


# --- the scenario ----------------------------------------------------------------------------


class Scenario:
    def __init__(self, sim: TelegramSimulator, rng: random.Random) -> None:
        self.sim = sim
        self.rng = rng
        self.expects: list[Expect] = []
        self.confirmed: set[int] = set()
        self.counter = 0
        self.commanders = [
            sim.add_user(c, f"Commandant {g}", language_code="fr") for g, c in enumerate(COMMANDERS)
        ]
        self.spokesperson = sim.add_user(
            SPOKESPERSON, "Porte-parole", username="porteparole", language_code="fr"
        )
        self.liaison = sim.add_user(LIAISON, "Liaison", language_code="fr")
        self.responders = [
            sim.add_user(r, f"Sapeur {r}", language_code=rng.choice(["fr", "nl", "en"]))
            for r in RESPONDERS
        ]
        self.duty = [
            sim.add_user(d, f"Permanence {i}", language_code="fr") for i, d in enumerate(DUTY)
        ]
        self.ops: list[SimChat] = []
        for g, chat in enumerate(OPS):
            members = [self.commanders[g], self.spokesperson, self.liaison, *self.responders]
            self.ops.append(
                sim.add_chat(
                    chat,
                    "supergroup",
                    title=f"Ops {g}",
                    members=members,
                    bot_status="administrator",
                )
            )
        self.liaison_chat = sim.add_chat(
            LIAISON_CHAT, "supergroup", title="CODIS", members=[self.liaison]
        )
        self.media = sim.add_chat(MEDIA_CHAT, "channel", title="Presse", bot_status="administrator")
        self.agencies = [
            sim.add_chat(chat, "supergroup", title=f"Agence {i}", members=[self.duty[i]])
            for i, chat in enumerate(AGENCY_CHATS)
        ]
        self.current: dict[int, Incident | None] = dict.fromkeys(OPS)
        self.alert_uids: list[str] = []
        self.statement_uids: list[str] = []
        self.closes: list[int] = []  # the update ids of the /close commands sent
        queue = sim.world.updates
        original: Callable[[int], None] = queue.confirm

        def confirm(offset: int) -> None:
            self.confirmed.update(u.update_id for u in queue.pending if u.update_id < offset)
            original(offset)

        queue.confirm = confirm  # type: ignore[method-assign]

    def uid(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter:05d}"

    def expect(self, kind: str, key: Any) -> None:
        self.expects.append(Expect(self.sim.world.updates.last_id, kind, key))

    def card_of(self, incident: Incident) -> SimMessage | None:
        pinned = self.sim.pinned(incident.chat)
        if pinned is None or f" {incident.uid}" not in (pinned.text or ""):
            return None
        if incident.ref is None:
            text = pinned.text or ""
            start = text.index("#") + 1
            incident.ref = int(text[start : text.index(" ", start)])
        return pinned

    async def step(self) -> None:
        """One update (or, for a double press, two)."""
        rng = self.rng
        g = rng.randrange(len(OPS))
        chat = self.ops[g]
        incident = self.current[chat.id]
        roll = rng.random()
        if incident is None:
            incident = Incident(self.uid("I"), chat.id, steps_left=rng.randint(15, 50))
            self.current[chat.id] = incident
            await self.sim.send_text(self.commanders[g], chat, f"/incident {incident.uid}")
            self.expect("declare", incident.uid)
            return
        incident.steps_left -= 1
        card = self.card_of(incident)
        if incident.steps_left <= 0:
            await self.sim.send_text(self.commanders[g], chat, "/close")
            self.expect("close", incident.uid)
            self.closes.append(self.sim.world.updates.last_id)
            self.current[chat.id] = None
            return
        if not incident.assigned:
            await self.sim.send_text(self.commanders[g], chat, "/assign porte-parole @porteparole")
            self.expect("assign", incident.uid)
            incident.assigned = True
            return
        if not incident.located and card is not None:
            message = await self.sim.send_location(
                rng.choice(self.responders), chat, 50.6 + rng.random() / 10, 3.3, reply_to=card
            )
            self.expect("location", (chat.id, message.message_id))
            incident.located = True
            return
        if roll < 0.30 and card is not None:
            text = self.uid("N")
            await self.sim.send_text(rng.choice(self.responders), chat, text, reply_to=card)
            self.expect("note", text)
        elif roll < 0.40:
            text = self.uid("L")
            await self.sim.send_text(rng.choice(self.responders), chat, f"/log {text}")
            self.expect("note", text)
        elif roll < 0.45 and card is not None:
            message = await self.sim.send_location(
                rng.choice(self.responders), chat, 50.5 + rng.random() / 5, 3.3, reply_to=card
            )
            self.expect("location", (chat.id, message.message_id))
        elif roll < 0.55 and card is not None:
            choices = [d for d in card.callback_data if not d.endswith(":clo")]
            if choices:
                await self.sim.press(self.commanders[g], chat, card, rng.choice(choices))
        elif roll < 0.57:
            await self.sim.send_text(self.commanders[g], chat, "/status")
        elif roll < 0.60:
            text = self.uid("C")
            await self.sim.send_text(rng.choice(self.responders), chat, text)
            self.expect("chatter", text)
        elif roll < 0.62:
            text = self.uid("S")
            await self.sim.send_text(self.spokesperson, chat, f"/statement {text}")
            self.expect("statement", text)
            self.statement_uids.append(text)
        elif roll < 0.65:
            text = self.uid("R")
            quantity = rng.choice([1, 1, 2])
            await self.sim.send_text(
                self.commanders[g], chat, f"/request {quantity} ambulance {text}"
            )
            self.expect("request", text)
        elif roll < 0.665:
            text = self.uid("A")
            await self.sim.send_text(self.liaison, self.liaison_chat, f"/alert {text}")
            self.expect("alert", text)
            self.alert_uids.append(text)
        elif roll < 0.83:
            await self._agency_press("a1:", "ack", ":ack")
        else:
            await self._agency_press("r1:", "decide", ":c" if rng.random() < 0.8 else ":d")

    async def _agency_press(self, prefix: str, kind: str, suffix: str) -> None:
        """A duty officer presses an Acknowledge, Commit or Decline button shown in their
        agency's chat, sometimes twice (two updates: the second must change nothing)."""
        rng = self.rng
        buttons = [
            (i, m, d)
            for i, chat in enumerate(self.agencies)
            for m in self.sim.bot_messages(chat)
            for d in m.callback_data
            if d.startswith(prefix) and d.endswith(suffix)
        ]
        if not buttons:
            text = self.uid("C")
            await self.sim.send_text(rng.choice(self.responders), self.ops[0], text)
            self.expect("chatter", text)
            return
        i, message, data = rng.choice(buttons)
        chat, duty = self.agencies[i], self.duty[i]
        for _ in range(2 if rng.random() < 0.2 else 1):
            await self.sim.press(duty, chat, message, data)
            self.expect(kind, (chat.id, duty.id, data))


# --- checks ----------------------------------------------------------------------------------


def _db(path: Path) -> Any:
    """A read-only connection to the bot's database (SQLite's file, or the PostgreSQL one)."""
    return closing(backends.reader(path))


async def count(tx: Tx, sql: str, params: tuple[Any, ...] = ()) -> int:
    row = await tx.one(sql, params)
    return int(row[0]) if row is not None and row[0] is not None else 0


async def has_effect(tx: Tx, e: Expect) -> bool:
    """Whether one update's effect is stored, in SQL both backends read."""
    if e.kind == "declare":
        return await count(tx, "SELECT count(*) FROM incidents WHERE title = ?", (e.key,)) == 1
    if e.kind == "close":
        row = await tx.one("SELECT id, status FROM incidents WHERE title = ?", (e.key,))
        if row is None or row["status"] != "closed":
            return False
        ref = row["id"]
        return (
            await count(
                tx, "SELECT count(*) FROM evaluations WHERE incident_id = ? AND party = ''", (ref,)
            )
            == 1
            and await count(
                tx,
                "SELECT count(*) FROM requests WHERE incident_id = ?"
                " AND status IN ('open', 'waiting_location')",
                (ref,),
            )
            == 0
            and await count(
                tx,
                "SELECT count(*) FROM request_offers o JOIN requests r ON r.id = o.request_id"
                " WHERE r.incident_id = ? AND o.status IN ('committed', 'en_route', 'on_scene')",
                (ref,),
            )
            == 0
            and await count(tx, "SELECT count(*) FROM units WHERE incident_id = ?", (ref,)) == 0
        )
    if e.kind == "assign":
        row = await tx.one("SELECT spokesperson_id FROM incidents WHERE title = ?", (e.key,))
        return row is not None and row[0] == SPOKESPERSON
    if e.kind == "note":
        sql = "SELECT count(*) FROM timeline WHERE kind = 'note' AND text = ?"
        return await count(tx, sql, (e.key,)) == 1
    if e.kind == "location":
        sql = (
            "SELECT count(*) FROM timeline WHERE kind = 'location' AND chat_id = ?"
            " AND message_id = ?"
        )
        return await count(tx, sql, tuple(e.key)) == 1
    if e.kind == "chatter":
        return await count(tx, "SELECT count(*) FROM timeline WHERE text = ?", (e.key,)) == 0
    if e.kind == "alert":
        sql = "SELECT count(*) FROM alerts WHERE CAST(texts AS TEXT) LIKE ?"
        return await count(tx, sql, (f"%{e.key}%",)) == 1
    if e.kind == "statement":
        sql = (
            "SELECT count(*) FROM statements WHERE CAST(texts AS TEXT) LIKE ?"
            " AND status = 'published'"
        )
        return await count(tx, sql, (f"%{e.key}%",)) == 1
    if e.kind == "request":
        return await count(tx, "SELECT count(*) FROM requests WHERE note = ?", (e.key,)) == 1
    if e.kind == "ack":
        chat, person, data = e.key
        sql = "SELECT count(*) FROM alert_acks WHERE alert_id = ? AND chat_id = ? AND person_id = ?"
        return await count(tx, sql, (int(data.split(":")[1]), chat, person)) == 1
    if e.kind == "decide":
        _, _, data = e.key
        row = await tx.one(
            "SELECT status FROM request_offers WHERE id = ?", (int(data.split(":")[1]),)
        )
        return row is not None and row[0] != "offered"
    raise ValueError(e.kind)


async def check_effects(
    db: Database, scenario: Scenario, counts: Counts, where: str, done: str = "confirmed"
) -> None:
    """Every update Telegram considers delivered (`done`: confirmed by getUpdates, answered
    by the webhook) has its effect."""
    async with db.read() as tx:
        for e in scenario.expects:
            if e.update_id in scenario.confirmed:
                counts.checks_after_kill += where == "kill"
                if not await has_effect(tx, e):
                    counts.problems.append(f"{where}: {done} update {e.update_id} {e} lost")
                    if where == "kill":
                        counts.missing_after_kill += 1
                    else:
                        counts.missing_at_end += 1


def bot_texts(sim: TelegramSimulator, chat: SimChat | int) -> list[str]:
    return [m.text or "" for m in sim.bot_messages(chat)]


async def audit(
    db: Database, sim: TelegramSimulator, statement_uids: list[str], counts: Counts
) -> None:
    """The end checks of both harnesses: nothing doubled in the database, every alert,
    statement, offer and evaluation question delivered, every card showing its final state;
    each message sent again counted per chat."""
    async with db.read() as tx:
        counts.doubled_timeline = await count(
            tx,
            "SELECT count(*) FROM (SELECT 1 FROM timeline WHERE kind IN ('note', 'location')"
            " GROUP BY incident_id, kind, coalesce(text, ''), coalesce(chat_id, 0),"
            " coalesce(message_id, 0) HAVING count(*) > 1) AS doubled",
        )
        counts.doubled_commitments = await count(
            tx,
            "SELECT count(*) FROM (SELECT 1 FROM request_offers"
            " WHERE status IN ('committed', 'en_route', 'on_scene', 'released')"
            " GROUP BY request_id, unit_id HAVING count(*) > 1) AS doubled",
        )
        counts.over_committed_requests = await count(
            tx,
            "SELECT count(*) FROM requests r WHERE r.committed > r.quantity OR r.committed <>"
            " (SELECT coalesce(sum(o.amount), 0) FROM request_offers o WHERE o.request_id = r.id"
            "  AND o.status IN ('committed', 'en_route', 'on_scene', 'released'))",
        )
        counts.commits = await count(
            tx,
            "SELECT count(*) FROM request_offers"
            " WHERE status IN ('committed', 'en_route', 'on_scene', 'released')",
        )
        counts.acks = await count(tx, "SELECT count(*) FROM alert_acks")
        counts.doubled_acks = await count(
            tx,
            "SELECT count(*) FROM (SELECT 1 FROM alert_acks GROUP BY alert_id, chat_id, person_id"
            " HAVING count(*) > 1) AS doubled",
        )
        counts.outbox_not_sent = await count(
            tx, "SELECT count(*) FROM outbox WHERE status <> 'sent'"
        )
        alerts = await tx.all("SELECT id, texts FROM alerts")
        targets = await tx.all("SELECT alert_id, chat_id, delivered_at FROM alert_targets")
        offer_rows = await tx.all(
            "SELECT o.id, u.agency FROM request_offers o JOIN units u ON u.id = o.unit_id"
        )
        evaluations = await tx.all("SELECT id, chat_id FROM evaluations")
        counts.closes = await count(tx, "SELECT count(*) FROM incidents WHERE status = 'closed'")
        card_rows = await tx.all(
            "SELECT incident_id, chat_id, message_id, version, shown_version FROM cards"
        )
        titles = {row[0]: row[1] for row in await tx.all("SELECT id, title FROM incidents")}
        view = CardView(timeline_entries=5)
        rendered: dict[tuple[int, int], str] = {}
        for row in card_rows:
            shown = await view.read(tx, Live(LiveKind.CARD, row[0], row[1]))
            if shown is not None:
                rendered[(row[0], row[1])] = shown.html
    # an alert's texts: JSON (text on SQLite, maybe already decoded on PostgreSQL)
    uid_of = {}
    for row in alerts:
        texts = json.loads(row["texts"]) if isinstance(row["texts"], str) else row["texts"]
        uid_of[row["id"]] = next(iter(texts.values()))
    counts.alerts = len(alerts)
    for target in targets:
        counts.alert_deliveries += 1
        uid = uid_of[target["alert_id"]]
        seen = sum(uid in t for t in bot_texts(sim, target["chat_id"]))
        if seen == 0 or target["delivered_at"] is None:
            counts.alert_missing += 1
            counts.problems.append(f"alert {uid} not in chat {target['chat_id']}")
        counts.alert_duplicates += max(0, seen - 1)
        counts.repeat(target["chat_id"], seen - 1)
    media = bot_texts(sim, MEDIA_CHAT)
    for uid in statement_uids:
        counts.statements += 1
        seen = sum(uid in t for t in media)
        if seen == 0:
            counts.statement_missing += 1
            counts.problems.append(f"statement {uid} not published")
        counts.statement_duplicates += max(0, seen - 1)
        counts.repeat(MEDIA_CHAT, seen - 1)
    for row in offer_rows:
        counts.offers += 1
        chat = sim.chat(AGENCY_CHATS[int(row["agency"].split()[-1])])
        prefix = f"r1:{row['id']}:"
        seen = sum(
            1
            for m in sim.bot_messages(chat)
            if any(d.startswith(prefix) for d in [*m.callback_data, *_history_data(m)])
        )
        if seen == 0:
            counts.offer_missing += 1
            counts.problems.append(f"offer {row['id']} not in its agency chat")
        counts.offer_duplicates += max(0, seen - 1)
        counts.repeat(chat.id, seen - 1)
    for row in evaluations:
        counts.evaluations += 1
        prefix = f"e1:{row['id']}:"
        seen = sum(
            1
            for m in sim.bot_messages(row["chat_id"])
            if any(d.startswith(prefix) for d in [*m.callback_data, *_history_data(m)])
        )
        if seen == 0:
            counts.evaluation_missing += 1
            counts.problems.append(f"evaluation {row['id']} not asked in {row['chat_id']}")
        counts.evaluation_duplicates += max(0, seen - 1)
        counts.repeat(row["chat_id"], seen - 1)
    for row in card_rows:
        counts.cards += 1
        ref, chat_id, message_id = row["incident_id"], row["chat_id"], row["message_id"]
        html = rendered.get((ref, chat_id))
        on_telegram = sim.message(chat_id, message_id).html if message_id else None
        if row["shown_version"] != row["version"] or html is None or on_telegram != html:
            counts.cards_stale += 1
            why = (
                f"version {row['shown_version']} of {row['version']} shown"
                if row["shown_version"] != row["version"]
                else "stored as shown, but Telegram shows another text"
            )
            counts.problems.append(f"card #{ref} in {chat_id} is not the final state: {why}")
        prefix = f"i1:{ref}:"
        posted = [
            m
            for m in sim.messages(chat_id, include_deleted=True)
            if m.from_bot
            and titles[ref] in (m.text or "")
            and any(d.startswith(prefix) for d in [*m.callback_data, *_history_data(m)])
        ]
        counts.card_duplicates += max(0, len(posted) - 1)
        counts.repeat(chat_id, len(posted) - 1)


@asynccontextmanager
async def _opened(db_path: Path) -> AsyncIterator[Database]:
    """The bot's database (SQLite's file, or the PostgreSQL one), opened for the checks."""
    db: Database = (
        PostgresDatabase(backends.current) if backends.current else SqliteDatabase(db_path)
    )
    await db.open()
    try:
        yield db
    finally:
        await db.close()


async def _final_checks(
    db_path: Path, sim: TelegramSimulator, scenario: Scenario, counts: Counts
) -> None:
    counts.confirmed = len(scenario.confirmed)
    counts.expectations = len(scenario.expects)
    async with _opened(db_path) as db:
        await check_effects(db, scenario, counts, "end")
        unconfirmed = [e for e in scenario.expects if e.update_id not in scenario.confirmed]
        if unconfirmed:
            counts.problems.append(f"{len(unconfirmed)} updates never confirmed")
            counts.missing_at_end += len(unconfirmed)
        await audit(db, sim, scenario.statement_uids, counts)


def _history_data(message: SimMessage) -> list[str]:
    """Callback data the message carried before its edits (an offer's Commit button goes away
    once pressed)."""
    found = []
    for version in message.history:
        markup = version.reply_markup or {}
        for row in markup.get("inline_keyboard", []):
            found += [b.get("callback_data", "") for b in row]
    return found


# --- running ---------------------------------------------------------------------------------


async def _settled(db_path: Path, sim: TelegramSimulator, timeout: float) -> None:  # noqa: ASYNC109
    """Until every update is confirmed, the outbox is empty and every card is shown."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sim.world.updates.pending:
            with _db(db_path) as conn:
                due = conn.execute(
                    "SELECT (SELECT count(*) FROM outbox WHERE status = 'pending')"
                    " + (SELECT count(*) FROM cards WHERE shown_version < version)"
                ).fetchone()[0]
            if due == 0:
                await asyncio.sleep(1.0)  # a last edit in flight
                return
        await asyncio.sleep(0.2)
    raise TimeoutError("the bot did not settle")


async def run(updates: int, kills: int, seed: int, workdir: Path, quiet: bool = False) -> Counts:
    rng = random.Random(seed)
    counts = Counts(kills=kills)
    sim = TelegramSimulator(token=TOKEN, bot_username="passerelle_crash_bot", seed=seed)
    await sim.start()
    db_path = workdir / "crash.db"
    config = workdir / "crash.toml"
    config.write_text(_config(sim, db_path, backends.current), encoding="utf-8")
    roster = workdir / "roster.csv"
    roster.write_text(_roster(), encoding="utf-8")
    log = workdir / "bot.log"
    imported = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        "roster",
        "import",
        str(roster),
        stdout=asyncio.subprocess.DEVNULL,
    )
    assert await imported.wait() == 0, "the roster import failed"
    scenario = Scenario(sim, rng)
    bot = Bot(config, log)
    # kills at random moments: once the scenario passed a random update, and the bot is at
    # work (it confirmed something since it started), after a random delay
    moments = sorted(rng.sample(range(updates // 20, updates - updates // 20), kills))
    started = time.monotonic()
    pushed = asyncio.Event()

    async def push() -> None:
        while sim.world.updates.last_id < updates:
            # the users do not run far ahead of the bot: at most 60 updates waiting
            while len(sim.world.updates.pending) > 60:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await scenario.step()
            counts.updates = sim.world.updates.last_id
            pushed.set()
            # a few hundred updates a second in bursts, with pauses for the bot's answers
            await asyncio.sleep(rng.choice([0.0, 0.0, 0.005, 0.02, 0.05]))

    def batches_handed() -> int:
        """getUpdates calls that handed the bot at least one update."""
        return sum(1 for c in sim.calls if c.method == "getUpdates" and c.ok and c.result)

    async def kill_at_moments() -> None:
        for number, moment in enumerate(moments, start=1):
            closes = len(scenario.closes)
            # half the kills: a few milliseconds after the bot was handed a batch of updates,
            # while their units of work are being stored; a quarter: right after a /close,
            # while it is handled (or at its moment, when no /close comes); a quarter at a
            # random moment once the bot is at work
            after_batch = number % 2 == 1
            after_close = number % 4 == 2
            while not (after_close and len(scenario.closes) > closes) and (
                counts.updates < moment or (after_close and counts.updates < updates)
            ):
                pushed.clear()
                await pushed.wait()
            if after_batch:
                handed = batches_handed()
                waited = time.monotonic()
                while batches_handed() == handed and time.monotonic() - waited < 5:  # noqa: ASYNC110
                    await asyncio.sleep(0.0005)
                counts.batch_kills += 1
                await asyncio.sleep(rng.random() * 0.005)
            elif after_close and len(scenario.closes) > closes:
                counts.close_kills += 1
                await asyncio.sleep(rng.random() * 0.15)
            else:
                since, waited = len(scenario.confirmed), time.monotonic()
                # the bot is up and at work (it confirmed something since it started)
                while len(scenario.confirmed) == since and time.monotonic() - waited < 5:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                await asyncio.sleep(rng.random() * 0.5)
            await bot.kill()
            before = counts.missing_after_kill
            async with _opened(db_path) as db:
                await check_effects(db, scenario, counts, "kill")
            if not quiet:
                print(
                    f"kill {number}/{kills} at update {counts.updates}:"
                    f" {len(scenario.confirmed)} confirmed so far,"
                    f" {counts.missing_after_kill - before} without their effect",
                    flush=True,
                )
            await bot.start()

    try:
        await bot.start()
        await asyncio.gather(push(), kill_at_moments())
        await _settled(db_path, sim, timeout=180)
    finally:
        await bot.stop()
        await sim.stop()
    elapsed = time.monotonic() - started
    await _final_checks(db_path, sim, scenario, counts)
    counts.token_in_log = log.read_text(encoding="utf-8", errors="replace").count(TOKEN)
    if not quiet:
        _print(counts, elapsed)
    return counts


def _print(counts: Counts, elapsed: float) -> None:
    rows = [
        ("updates sent", counts.updates),
        ("bot kills (SIGKILL) and restarts", counts.kills),
        ("updates confirmed by Telegram (getUpdates offset)", counts.confirmed),
        ("effects checked right after the kills", counts.checks_after_kill),
        ("confirmed updates without their effect, after a kill", counts.missing_after_kill),
        ("updates with an expected effect, checked at the end", counts.expectations),
        ("of those, missing at the end", counts.missing_at_end),
        ("doubled timeline entries", counts.doubled_timeline),
        ("commitments (units committed)", counts.commits),
        ("doubled commitments", counts.doubled_commitments),
        ("requests over their quantity or miscounted", counts.over_committed_requests),
        ("acknowledgements", counts.acks),
        ("doubled acknowledgements", counts.doubled_acks),
        ("alerts", counts.alerts),
        ("alert deliveries expected", counts.alert_deliveries),
        ("alert deliveries missing", counts.alert_missing),
        ("alert deliveries repeated", counts.alert_duplicates),
        ("statements published", counts.statements),
        ("statements missing in the media chat", counts.statement_missing),
        ("statements repeated", counts.statement_duplicates),
        ("offers to agencies", counts.offers),
        ("offers missing", counts.offer_missing),
        ("offers repeated", counts.offer_duplicates),
        ("incidents closed", counts.closes),
        ("kills right after a /close", counts.close_kills),
        ("kills a few ms after a batch was handed over", counts.batch_kills),
        ("evaluation questions asked", counts.evaluations),
        ("evaluation questions missing in their chat", counts.evaluation_missing),
        ("evaluation questions repeated", counts.evaluation_duplicates),
        ("cards", counts.cards),
        ("cards not showing the final state", counts.cards_stale),
        ("cards posted more than once (extra posts)", counts.card_duplicates),
        ("outbox rows not sent", counts.outbox_not_sent),
        ("bot token found in the bot's log", counts.token_in_log),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    most = max(counts.repeated_per_chat.values(), default=0)
    label = f"repeated messages in all (at most {IN_FLIGHT} per kill)"
    print(f"{label:<{width}}  {counts.repeated}")
    print(f"{'most repeated in one chat (at most one per kill)':<{width}}  {most}")
    print(f"{'elapsed':<{width}}  {elapsed:.0f} s")
    for problem in counts.problems[:20]:
        print("PROBLEM:", problem)
    print("RESULT:", "OK" if counts.ok() else "FAILED")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.crash_harness")
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None, help="work in this directory")
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        counts = asyncio.run(run(args.updates, args.kills, args.seed, args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="passerelle-crash-") as tmp:
            counts = asyncio.run(run(args.updates, args.kills, args.seed, Path(tmp)))
    return 0 if counts.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
