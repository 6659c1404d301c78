"""An incident gets its location (a shared location, a named place, a place button, a place
name in reply to a request card): the incident records it, and the resource requests that
waited for it go out, in the same unit of work."""

from __future__ import annotations

from bot.core.config import RequestSettings
from bot.core.db import UnitOfWork
from bot.core.models import Author, Incident
from bot.incidents import service as incidents
from bot.resources import requests


async def locate(
    unit: UnitOfWork,
    *,
    ref: int,
    lat: float,
    lon: float,
    author: Author | None,
    chat_id: int | None,
    settings: RequestSettings,
    text: str | None = None,
    keep_text: bool = False,
    message_id: int | None = None,
) -> Incident:
    incident = await incidents.locate(
        unit,
        ref=ref,
        lat=lat,
        lon=lon,
        author=author,
        chat_id=chat_id,
        text=text,
        keep_text=keep_text,
        message_id=message_id,
    )
    await requests.open_waiting(unit, ref=ref, settings=settings, chat_id=chat_id)
    return incident
