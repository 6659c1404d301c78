"""Closing an incident, across the domains, in one unit of work: the incident is closed, its
open resource requests are withdrawn and the units still committed to it released (their
agencies told), and the after-action evaluations are asked. A crash can lose none of it
without losing all of it."""

from __future__ import annotations

from bot.core.db import UnitOfWork
from bot.core.directory import person_in
from bot.core.models import Author, Incident, IncidentStatus
from bot.incidents import service as incidents
from bot.reports import evaluations
from bot.resources import requests


async def close(unit: UnitOfWork, *, ref: int, author: Author, chat_id: int) -> Incident:
    incident = await incidents.close(unit, ref=ref, author=author, chat_id=chat_id)
    person = await person_in(unit, author.id)
    await requests.close_out(unit, ref=ref, by=person.name if person else author.name)
    await evaluations.ask(unit, ref)
    return incident


async def change_status(
    unit: UnitOfWork, *, ref: int, status: IncidentStatus, author: Author, chat_id: int
) -> Incident:
    """A status from the card's buttons or /set: closing is more than a status."""
    if status is IncidentStatus.CLOSED:
        return await close(unit, ref=ref, author=author, chat_id=chat_id)
    return await incidents.change_status(
        unit, ref=ref, status=status, author=author, chat_id=chat_id
    )
