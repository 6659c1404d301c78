"""Escalation phases: the level of authority in charge of an incident, per country involved.

Belgium: communal (bourgmestre / burgemeester) → provincial (governor) → federal (Minister of
the Interior). France: communal (maire) → departmental (préfet) → zonal (préfet de zone) →
national (ministre, COGIC). Above both, a country may ask the EU Civil Protection Mechanism
(through the ERCC). Each change is one transaction: the phase rows, the timeline entry, and
the messages to the chats configured for the levels left and reached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from bot.core.db import Tx, UnitOfWork, from_db_time, to_db_time, utcnow
from bot.core.directory import chat_in, ensure_person
from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import (
    Author,
    Country,
    Incident,
    Involvement,
    Level,
    PhasePeriod,
    PhaseState,
    TimelineKind,
)
from bot.core.vocabulary import LADDER, config_key
from bot.delivery.outbox import enqueue
from bot.incidents.service import incident_in, record
from bot.render.phases import render_phase_notice


@dataclass
class Change:
    incident: Incident
    # (country, level before or None when the change made it involved, level reached)
    changes: list[tuple[Country, Level | None, Level]] = field(default_factory=list)


async def current_in(tx: Tx, incident: Incident, also: Sequence[Country] = ()) -> list[PhaseState]:
    """The level of each country involved, the incident's own first: its own country (its
    authorities are in charge), a country an escalation made involved (a plume across the
    border: its level, and who involved it), and a country whose units work the incident
    (`also`: under the incident country's command, no phase of its own)."""
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
    starters = await tx.all(
        "SELECT ph.country, p.name FROM incident_phases ph JOIN people p ON p.id = ph.started_by"
        " WHERE ph.incident_id = ? ORDER BY ph.id",
        (incident.ref,),
    )
    involved_by: dict[Country, str] = {}
    for row in starters:
        involved_by.setdefault(Country(row["country"]), row["name"])
    countries = [incident.country, *sorted(set(states) | set(also))]
    ordered: list[PhaseState] = []
    for country in dict.fromkeys(countries):
        state = states.get(country)
        if country is incident.country:
            ordered.append(state or PhaseState(country, Level.COMMUNAL, incident.declared_at))
        elif state is not None:
            ordered.append(
                replace(state, involvement=Involvement.ESCALATED, by=involved_by.get(country))
            )
        else:
            ordered.append(
                PhaseState(country, Level.COMMUNAL, incident.declared_at, Involvement.UNITS)
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
    unit: UnitOfWork,
    *,
    ref: int,
    up: bool,
    country: Country | None,
    author: Author,
    chat_id: int,
    notify: Mapping[str, Sequence[int]],
    involved: Sequence[Country] = (),
) -> Change:
    """/escalate or /deescalate: one level up or down for `country`, or for every country
    involved when None. `notify`: chat ids per "BE.provincial" key (the configuration)."""
    incident = await incident_in(unit, ref)
    if incident is None:
        raise UserError(N_("There is no incident #{ref}."), ref=ref)
    if not incident.is_open:
        raise UserError(N_("Incident #{ref} is closed."), ref=ref)
    await ensure_person(unit, author.id, author.name, author.username, author.language)
    states = await current_in(unit, incident, involved)
    now = utcnow()
    if country is not None:
        # a country not involved yet is made involved by this escalation
        states = [s for s in states if s.country is country] or [
            PhaseState(country, Level.COMMUNAL, now, Involvement.UNITS)
        ]
    result = Change(incident)
    for state in states:
        ladder = LADDER[state.country]
        index = ladder.index(state.level) + (1 if up else -1)
        if not 0 <= index < len(ladder):
            continue
        new = ladder[index]
        row = await unit.one(
            "SELECT id FROM incident_phases WHERE incident_id = ? AND country = ?"
            " AND ended_at IS NULL",
            (ref, state.country.value),
        )
        # a country other than the incident's, with no phase on record, becomes involved now
        # (its units, if any, worked under the incident country's command until then)
        newly = row is None and state.involvement is not Involvement.OWN
        if row is not None:
            await unit.execute(
                "UPDATE incident_phases SET ended_at = ? WHERE id = ?",
                (to_db_time(now), row["id"]),
            )
        elif not newly:  # the communal phase since the declaration, now on record
            await unit.execute(
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
        phase_id = await unit.execute(
            "INSERT INTO incident_phases (incident_id, country, level, started_at,"
            " started_by) VALUES (?, ?, ?, ?, ?)",
            (ref, state.country.value, new.value, to_db_time(now), author.id),
        )
        await record(
            unit,
            ref,
            TimelineKind.INVOLVED if newly else TimelineKind.PHASE,
            author,
            chat_id,
            field=state.country.value,
            text=new.value,
        )
        old = None if newly else state.level
        result.changes.append((state.country, old, new))
        await _notify(unit, incident, state.country, old, new, phase_id, notify)
    if not result.changes:
        raise UserError(
            N_("#{ref} is already at the highest level.")
            if up
            else N_("#{ref} is already at the communal level."),
            ref=ref,
        )
    changed = await incident_in(unit, ref)
    assert changed is not None
    result.incident = changed
    return result


async def _notify(
    tx: UnitOfWork,
    incident: Incident,
    country: Country,
    old: Level | None,
    new: Level,
    phase_id: int,
    notify: Mapping[str, Sequence[int]],
) -> None:
    targets = [
        *(notify.get(config_key(country, old), ()) if old is not None else ()),
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
            html=render_phase_notice(incident, country, old, new, chat.languages),
            purpose="phase",
            incident_ref=incident.ref,
            subject_id=phase_id,
            key=f"phase:{phase_id}:{chat_id}",
        )
