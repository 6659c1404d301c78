"""Who sees which incidents on the board (docs/board.md, "Who sees what").

- An admin or a liaison (configured roles) sees every incident.
- Anyone else known to the bot sees the incidents of the chats they are known in: declared in
  one of them, or with a card in one of them. A person is known in a chat when they wrote on a
  timeline from it, declared an incident in it, or acknowledged an alert in it, or when it is
  the agency chat of their configured agency.
- A commander (configured role) also sees the incidents of their configured country.
- Everyone sees the incidents where they are commander, spokesperson or liaison, or that they
  declared.
- Nobody the bot knows: a stranger, refused before anything is read.

Reads only. The chats a person wrote from come from `Authors` (the timeline has no index by
author), on the connection apart; a viewer is kept `KNOWN_FOR` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.db import Database, Tx
from bot.core.directory import person_in
from bot.core.models import ChatKind, IncidentStatus, Person, Role
from bot.core.vocabulary import fold

# how long the chats a person is known in are kept before being read again (seconds)
KNOWN_FOR = 60.0
# the most incidents the overview lists (newest first)
OVERVIEW_LIMIT = 500

_WIDE = frozenset({Role.ADMIN, Role.LIAISON})


@dataclass(frozen=True)
class Viewer:
    """A person the board shows incidents to, with the chats they are known in."""

    person: Person
    chats: frozenset[int]
    # the languages of those chats (for bilingual labels), most used first
    chat_languages: tuple[str, ...] = ()

    @property
    def sees_all(self) -> bool:
        return bool(self.person.roles & _WIDE)

    def clause(self) -> tuple[str, list[object]]:
        """SQL over `incidents i`: true for the incidents this viewer may see."""
        if self.sees_all:
            return "1 = 1", []
        pid = self.person.id
        parts = [
            "i.commander_id = ?",
            "i.spokesperson_id = ?",
            "i.liaison_id = ?",
            "i.declared_by = ?",
        ]
        params: list[object] = [pid, pid, pid, pid]
        if Role.COMMANDER in self.person.roles and self.person.country is not None:
            parts.append("i.country = ?")
            params.append(self.person.country.value)
        if self.chats:
            chats = sorted(self.chats)
            marks = ", ".join("?" * len(chats))
            parts.append(f"i.chat_id IN ({marks})")
            parts.append(
                "EXISTS (SELECT 1 FROM cards c WHERE c.incident_id = i.id"
                f" AND c.chat_id IN ({marks}))"
            )
            params.extend(chats)
            params.extend(chats)
        return "(" + " OR ".join(parts) + ")", params


class Access:
    """Viewers for the board's requests and live events, their known chats cached a while."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._known: dict[int, tuple[float, Viewer]] = {}
        # (person, incident) → (when, may see it): the live events ask for every open board at
        # each change, and whether a person may see an incident changes as rarely as who they are
        self._sees: dict[tuple[int, int], tuple[float, bool]] = {}
        # who wrote on a timeline from which chat: read once, then only the entries since
        self._authors = Authors()

    async def visible(self, person_id: int, refs: set[int]) -> set[int]:
        """Those of `refs` the person may see, each answer kept `KNOWN_FOR` seconds like the
        viewer it comes from (only an incident not asked about lately is read)."""
        now = time.monotonic()
        seen: set[int] = set()
        unknown: set[int] = set()
        for ref in refs:
            cached = self._sees.get((person_id, ref))
            if cached is not None and now - cached[0] <= KNOWN_FOR:
                if cached[1]:
                    seen.add(ref)
            else:
                unknown.add(ref)
        if not unknown:
            return seen
        viewer = await self.viewer(person_id)
        if viewer is None:
            return set()
        async with self._db.read() as tx:
            found = await visible_in(tx, viewer, unknown)
        if len(self._sees) > 100_000:  # many people over many incidents: start again
            self._sees.clear()
        for ref in unknown:
            self._sees[(person_id, ref)] = (now, ref in found)
        return seen | found

    async def viewer(self, person_id: int) -> Viewer | None:
        """The viewer for a person id; None for someone the bot does not know (a stranger).
        Kept `KNOWN_FOR` seconds (a role given or a chat joined shows within a minute)."""
        now = time.monotonic()
        cached = self._known.get(person_id)
        if cached is not None and now - cached[0] <= KNOWN_FOR:
            return cached[1]
        async with self._db.read() as tx:
            person = await person_in(tx, person_id)
        if person is None:
            self._known.pop(person_id, None)
            return None
        async with self._db.read_apart() as tx:
            await self._authors.catch_up(tx)
            chats, languages = await known_chats_in(tx, person, self._authors.chats_of(person.id))
        viewer = Viewer(person=person, chats=chats, chat_languages=languages)
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[person_id] = (now, viewer)
        return viewer


class Authors:
    """Which chats each person wrote on a timeline from. The timeline has no index by author
    (at the scale database, 200,000 entries: about 0.1 s for one author, 0.6 s for all, on the
    connection apart), so it is read whole once, then only the entries added since (by id);
    read whole again every `RESCAN` seconds (a group's new id after a migration is written over
    old entries)."""

    RESCAN = 3600.0

    def __init__(self) -> None:
        self._chats: dict[int, set[int]] = {}
        self._last = 0
        self._scanned = 0.0

    async def catch_up(self, tx: Tx) -> None:
        if time.monotonic() - self._scanned > self.RESCAN:
            self._chats, self._last, self._scanned = {}, 0, time.monotonic()
        top = await tx.one("SELECT MAX(id) AS last FROM timeline")
        last = int(top["last"]) if top and top["last"] is not None else 0
        if last <= self._last:
            return
        rows = await tx.all(
            "SELECT DISTINCT author_id, chat_id FROM timeline WHERE id > ? AND id <= ?"
            " AND author_id IS NOT NULL AND chat_id IS NOT NULL",
            (self._last, last),
        )
        for row in rows:
            self._chats.setdefault(row["author_id"], set()).add(row["chat_id"])
        self._last = last

    def chats_of(self, person_id: int) -> frozenset[int]:
        return frozenset(self._chats.get(person_id, ()))


async def known_chats_in(
    tx: Tx, person: Person, wrote_in: frozenset[int] | None = None
) -> tuple[frozenset[int], tuple[str, ...]]:
    """The registered chats a person is known in, and their languages (most chats first).
    `wrote_in`: the chats they wrote on a timeline from, when known (`Authors`); else read."""
    if wrote_in is None:
        rows = await tx.all(
            "SELECT DISTINCT chat_id FROM timeline WHERE author_id = ? AND chat_id IS NOT NULL",
            (person.id,),
        )
        wrote_in = frozenset(row["chat_id"] for row in rows)
    rows = await tx.all(
        "SELECT chat_id FROM incidents WHERE declared_by = ?"
        " UNION SELECT chat_id FROM alert_acks WHERE person_id = ?",
        (person.id, person.id),
    )
    found = {row["chat_id"] for row in rows} | wrote_in
    registered = await tx.all("SELECT id, kind, agency, languages FROM chats")
    languages: dict[str, int] = {}
    chats = set()
    for chat in registered:
        agency_chat = (
            chat["kind"] == ChatKind.AGENCY.value
            and person.agency
            and chat["agency"]
            and fold(chat["agency"]) == fold(person.agency)
        )
        if chat["id"] in found or agency_chat:
            chats.add(chat["id"])
            for language in chat["languages"].split(","):
                languages[language] = languages.get(language, 0) + 1
    ordered = tuple(sorted(languages, key=lambda lang: (-languages[lang], lang)))
    return frozenset(chats), ordered


async def may_see_in(tx: Tx, viewer: Viewer, ref: int) -> bool:
    where, params = viewer.clause()
    row = await tx.one(f"SELECT 1 FROM incidents i WHERE i.id = ? AND {where}", (ref, *params))
    return row is not None


async def visible_in(tx: Tx, viewer: Viewer, refs: Iterable[int]) -> set[int]:
    """Those of `refs` the viewer may see."""
    wanted = sorted(set(refs))
    if not wanted:
        return set()
    if viewer.sees_all:
        return set(wanted)  # incidents changed or remembered: they exist
    where, params = viewer.clause()
    marks = ", ".join("?" * len(wanted))
    rows = await tx.all(
        f"SELECT i.id FROM incidents i WHERE i.id IN ({marks}) AND {where}", (*wanted, *params)
    )
    return {row["id"] for row in rows}


async def open_visible_in(tx: Tx, viewer: Viewer, limit: int = OVERVIEW_LIMIT) -> list[int]:
    """The open incidents the viewer may see, newest first."""
    where, params = viewer.clause()
    rows = await tx.all(
        f"SELECT i.id FROM incidents i WHERE i.status != ? AND {where} ORDER BY i.id DESC LIMIT ?",
        (IncidentStatus.CLOSED.value, *params, limit),
    )
    return [row["id"] for row in rows]
