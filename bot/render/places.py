"""Place names: which of several places a name means (buttons), and a located place."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.models import Place
from bot.render.common import FLAG, coordinates, text
from bot.render.keyboards import place_data


def place_label(place: Place) -> str:
    """'🇧🇪 Comines (Hainaut) · Komen', plain text for a button."""
    names = " · ".join(place.also[:1])
    label = f"{FLAG[place.country]} {place.name} ({place.region})"
    return f"{label} · {names}" if names else label


def place_line(place: Place) -> str:
    return f"{text(place_label(place))} 📍 {coordinates(place.lat, place.lon)}"


def choice_keyboard(ref: int, places: Sequence[Place]) -> dict[str, object]:
    """One button per place (plain JSON markup: sent directly or through the outbox)."""
    return {
        "inline_keyboard": [
            [{"text": place_label(p), "callback_data": place_data(ref, p.id)}] for p in places
        ]
    }
