"""Escalation phases: the level of authority in charge of an incident, per country involved.

Belgium: communal (bourgmestre / burgemeester) → provincial (governor) → federal (Minister of
the Interior). France: communal (maire) → departmental (préfet) → zonal (préfet de zone) →
national (ministre, COGIC). Above both, a country may ask the EU Civil Protection Mechanism
(through the ERCC). Each change is one transaction: the phase rows, the timeline entry, and
the messages to the chats configured for the levels left and reached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.db import Database, Tx, from_db_time, to_db_time, utcnow
from bot.directory import chat_in, ensure_person
from bot.errors import UserError
from bot.i18n import N_, each_language
from bot.incidents import Author, incident_in, record
from bot.models import Country, Incident, TimelineKind
from bot.outbox import enqueue


class Level(StrEnum):
    COMMUNAL = "communal"
    PROVINCIAL = "provincial"  # BE: the governor
    FEDERAL = "federal"  # BE: the Minister of the Interior
    DEPARTMENTAL = "departmental"  # FR: the préfet
    ZONAL = "zonal"  # FR: the préfet de zone de défense et de sécurité
    NATIONAL = "national"  # FR: the Minister of the Interior, COGIC
    EU = "eu"  # the EU Civil Protection Mechanism, through the ERCC


LADDER: Mapping[Country, tuple[Level, ...]] = {
    Country.BE: (Level.COMMUNAL, Level.PROVINCIAL, Level.FEDERAL, Level.EU),
    Country.FR: (Level.COMMUNAL, Level.DEPARTMENTAL, Level.ZONAL, Level.NATIONAL, Level.EU),
}

PHASE: Mapping[tuple[Country, Level], str] = {
    (Country.BE, Level.COMMUNAL): N_("communal phase"),
    (Country.BE, Level.PROVINCIAL): N_("provincial phase"),
    (Country.BE, Level.FEDERAL): N_("federal phase"),
    (Country.BE, Level.EU): N_("EU Civil Protection Mechanism requested"),
    (Country.FR, Level.COMMUNAL): N_("communal level"),
    (Country.FR, Level.DEPARTMENTAL): N_("departmental level"),
    (Country.FR, Level.ZONAL): N_("zonal level"),
    (Country.FR, Level.NATIONAL): N_("national level"),
    (Country.FR, Level.EU): N_("EU Civil Protection Mechanism requested"),
}

AUTHORITY: Mapping[tuple[Country, Level], str] = {
    (Country.BE, Level.COMMUNAL): N_("the mayor (bourgmestre / burgemeester)"),
    (Country.BE, Level.PROVINCIAL): N_("the provincial governor"),
    (Country.BE, Level.FEDERAL): N_("the Minister of the Interior"),
    (Country.BE, Level.EU): N_("the ERCC, with the national crisis centre"),
    (Country.FR, Level.COMMUNAL): N_("the mayor (maire)"),
    (Country.FR, Level.DEPARTMENTAL): N_("the préfet"),
    (Country.FR, Level.ZONAL): N_("the préfet de zone"),
    (Country.FR, Level.NATIONAL): N_("the Minister of the Interior (COGIC)"),
    (Country.FR, Level.EU): N_("the ERCC, with the COGIC"),
}


def config_key(country: Country, level: Level) -> str:
    """How [escalation] chats names a level: "BE.provincial"."""
    return f"{country.value}.{level.value}"


VALID_KEYS = frozenset(config_key(c, lvl) for c, ladder in LADDER.items() for lvl in ladder)


@dataclass(frozen=True)
class PhaseState:
    country: Country
    level: Level
    since: datetime

    @property
    def phase(self) -> str:
        return PHASE[(self.country, self.level)]

    @property
    def authority(self) -> str:
        return AUTHORITY[(self.country, self.level)]


@dataclass(frozen=True)
class PhasePeriod:
    """One level held for a time (the after-action report's phases)."""

    country: Country
    level: Level
    started_at: datetime
    ended_at: datetime | None
    started_by: str | None


@dataclass
class Change:
    incident: Incident
    changes: list[tuple[Country, Level, Level]] = field(default_factory=list)


async def current_in(tx: Tx, incident: Incident, also: Sequence[Country] = ()) -> list[PhaseState]:
    """The level of each country involved: the incident's own, those that changed a level,
    and `also` (countries whose units are there). The incident's country first."""
    rows = await tx.all(
        "SELECT country, level, started_at FROM incident_phases"
        " WHERE incident_id = ? AND ended_at IS NULL ORDER BY id",
        (incident.ref,),
    )
    states = {
        Country(r["country"]): PhaseState(
            Country(r["country"]), Level(r["level"]), from_db_time(r["started_at"])
        )
        for r in rows
    }
    countries = [incident.country, *sorted(set(states) | set(also))]
    ordered: list[PhaseState] = []
    for country in dict.fromkeys(countries):
        ordered.append(
            states.get(country) or PhaseState(country, Level.COMMUNAL, incident.declared_at)
        )
    return ordered


async def history_in(tx: Tx, incident: Incident) -> list[PhasePeriod]:
    """Every level held, in order; the communal start of each country included."""
    rows = await tx.all(
        "SELECT ph.*, p.name AS person FROM incident_phases ph"
        " LEFT JOIN people p ON p.id = ph.started_by WHERE ph.incident_id = ? ORDER BY ph.id",
        (incident.ref,),
    )
    periods = [
        PhasePeriod(
            Country(r["country"]),
            Level(r["level"]),
            from_db_time(r["started_at"]),
            from_db_time(r["ended_at"]) if r["ended_at"] else None,
            r["person"],
        )
        for r in rows
    ]
    if not any(p.country is incident.country for p in periods):
        periods.insert(
            0,
            PhasePeriod(
                incident.country, Level.COMMUNAL, incident.declared_at, incident.closed_at, None
            ),
        )
    return periods


async def change(
    db: Database,
    *,
    ref: int,
    up: bool,
    country: Country | None,
    author: Author,
    chat_id: int,
    update_id: int | None,
    notify: Mapping[str, Sequence[int]],
    involved: Sequence[Country] = (),
) -> Change:
    """/escalate or /deescalate: one level up or down for `country`, or for every country
    involved when None. `notify`: chat ids per "BE.provincial" key (the configuration)."""
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        incident = await incident_in(tx, ref)
        if incident is None:
            raise UserError(N_("There is no incident #{ref}."), ref=ref)
        if not incident.is_open:
            raise UserError(N_("Incident #{ref} is closed."), ref=ref)
        await ensure_person(tx, author.id, author.name, author.username, author.language)
        also = [*involved, *([country] if country else [])]
        states = await current_in(tx, incident, also)
        if country is not None:
            states = [s for s in states if s.country is country]
        result = Change(incident)
        now = utcnow()
        for state in states:
            ladder = LADDER[state.country]
            index = ladder.index(state.level) + (1 if up else -1)
            if not 0 <= index < len(ladder):
                continue
            new = ladder[index]
            row = await tx.one(
                "SELECT id FROM incident_phases WHERE incident_id = ? AND country = ?"
                " AND ended_at IS NULL",
                (ref, state.country.value),
            )
            if row is None:  # the communal phase since the declaration, now on record
                await tx.execute(
                    "INSERT INTO incident_phases (incident_id, country, level, started_at,"
                    " ended_at) VALUES (?, ?, ?, ?, ?)",
                    (
                        ref,
                        state.country.value,
                        state.level.value,
                        to_db_time(incident.declared_at),
                        to_db_time(now),
                    ),
                )
            else:
                await tx.execute(
                    "UPDATE incident_phases SET ended_at = ? WHERE id = ?",
                    (to_db_time(now), row["id"]),
                )
            phase_id = await tx.execute(
                "INSERT INTO incident_phases (incident_id, country, level, started_at,"
                " started_by) VALUES (?, ?, ?, ?, ?)",
                (ref, state.country.value, new.value, to_db_time(now), author.id),
            )
            await record(
                tx,
                ref,
                TimelineKind.PHASE,
                author,
                chat_id,
                field=state.country.value,
                text=new.value,
            )
            result.changes.append((state.country, state.level, new))
            await _notify(tx, incident, state.country, state.level, new, phase_id, notify)
        if not result.changes:
            raise UserError(
                N_("#{ref} is already at the highest level.")
                if up
                else N_("#{ref} is already at the communal level."),
                ref=ref,
            )
        changed = await incident_in(tx, ref)
    assert changed is not None
    result.incident = changed
    return result


def render_notice(
    incident: Incident, country: Country, old: Level, new: Level, languages: Sequence[str]
) -> str:
    """What the authorities' chats read: which incident, which level now, who is in charge."""
    from bot.render.phases import phase_notice

    return each_language(languages, lambda tr: phase_notice(tr, incident, country, old, new))


async def _notify(
    tx: Tx,
    incident: Incident,
    country: Country,
    old: Level,
    new: Level,
    phase_id: int,
    notify: Mapping[str, Sequence[int]],
) -> None:
    targets = [
        *notify.get(config_key(country, old), ()),
        *notify.get(config_key(country, new), ()),
    ]
    for chat_id in dict.fromkeys(targets):
        if chat_id == incident.chat_id:
            continue  # its card says so
        chat = await chat_in(tx, chat_id)
        if chat is None:
            continue  # not registered: check-config reports it
        await enqueue(
            tx,
            chat_id=chat_id,
            html=render_notice(incident, country, old, new, chat.languages),
            purpose="phase",
            incident_ref=incident.ref,
            subject_id=phase_id,
            key=f"phase:{phase_id}:{chat_id}",
        )


def parse_country(word: str) -> Country | None:
    from bot.labels import fold

    folded = fold(word)
    words = {
        Country.FR: {"fr", "france", "frankrijk"},
        Country.BE: {"be", "belgique", "belgie", "belgium"},
    }
    return next((c for c, names in words.items() if folded in names), None)
