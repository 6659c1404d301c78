"""The words for domain values, marked for translation, and reading them back in any language."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import TypeVar

from bot.core.i18n import N_, translator
from bot.core.models import (
    LANGUAGES,
    Assignment,
    Country,
    Hazard,
    IncidentField,
    IncidentStatus,
    Level,
    MediaKind,
    OfferStatus,
    RequestStatus,
    ResourceType,
    Role,
    Severity,
    SiteKind,
    UnitStatus,
)

E = TypeVar("E", bound=StrEnum)

SEVERITY: Mapping[Severity, str] = {
    Severity.MINOR: N_("minor"),
    Severity.MODERATE: N_("moderate"),
    Severity.SEVERE: N_("severe"),
    Severity.EXTREME: N_("extreme"),
}

STATUS: Mapping[IncidentStatus, str] = {
    IncidentStatus.REPORTED: N_("reported"),
    IncidentStatus.ACTIVE: N_("active"),
    IncidentStatus.CONTAINED: N_("contained"),
    IncidentStatus.CLOSED: N_("closed"),
}

ROLE: Mapping[Role, str] = {
    Role.ADMIN: N_("admin"),
    Role.COMMANDER: N_("commander"),
    Role.LIAISON: N_("liaison officer"),
    Role.SPOKESPERSON: N_("spokesperson"),
    Role.RESPONDER: N_("responder"),
}

ASSIGNMENT: Mapping[Assignment, str] = {
    Assignment.COMMANDER: N_("commander"),
    Assignment.SPOKESPERSON: N_("spokesperson"),
    Assignment.LIAISON: N_("liaison officer"),
}

FIELD: Mapping[IncidentField, str] = {
    IncidentField.TITLE: N_("title"),
    IncidentField.TYPE: N_("type"),
    IncidentField.SEVERITY: N_("severity"),
    IncidentField.STATUS: N_("status"),
    IncidentField.LOCATION: N_("location"),
}

# What the field sends to the timeline (bot.render.media).
MEDIA_KIND: Mapping[MediaKind, str] = {
    MediaKind.PHOTO: N_("photo"),
    MediaKind.VIDEO: N_("video"),
    MediaKind.VIDEO_NOTE: N_("video message"),
    MediaKind.VOICE: N_("voice note"),
    MediaKind.AUDIO: N_("audio file"),
    MediaKind.DOCUMENT: N_("document"),
    MediaKind.CONTACT: N_("contact"),
    MediaKind.VENUE: N_("place"),
}

MEDIA_MARK: Mapping[MediaKind, str] = {
    MediaKind.PHOTO: "📷",
    MediaKind.VIDEO: "🎥",
    MediaKind.VIDEO_NOTE: "📹",
    MediaKind.VOICE: "🎙",
    MediaKind.AUDIO: "🎵",
    MediaKind.DOCUMENT: "📄",
    MediaKind.CONTACT: "👤",
    MediaKind.VENUE: "📌",
}

# Words responders also type that are not the labels themselves.
_SYNONYMS: Mapping[str, str] = {
    "liaison": "liaison",
    "liaisonofficer": "liaison",
    "officierdeliaison": "liaison",
    "verbindingsofficier": "liaison",
    "cos": "commander",
    "commandant": "commander",
    "commandantdesoperations": "commander",
    "operationeelcommandant": "commander",
    "dirpcops": "commander",
    "dircpops": "commander",
    "porteparole": "spokesperson",
    "dirinfo": "spokesperson",
    "mineur": "minor",  # severities also typed in the masculine
    "modere": "moderate",
    "lieu": "location",
    "adresse": "location",
    "titre": "title",
}


@functools.lru_cache(maxsize=8192)
def fold(word: str) -> str:
    """Lower case, no accents, no spaces or dashes: 'Sévère' == 'severe', 'porte-parole'.

    Cached: agency names are folded once per unit and chat in every nearest-unit search."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if c.isalnum())


def parse(word: str, labels: Mapping[E, str]) -> E | None:
    """The value whose code or label, in any of our languages, is `word`."""
    wanted = fold(word)
    if not wanted:
        return None
    wanted = _SYNONYMS.get(wanted, wanted)
    for value, label in labels.items():
        if wanted == fold(value.value):
            return value
        for lang in LANGUAGES:
            if wanted == fold(translator(lang).gettext(label)):
                return value
    return None


# --- escalation phases -------------------------------------------------------------------------


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


# --- at-risk sites -----------------------------------------------------------------------------


KIND: Mapping[SiteKind, str] = {
    SiteKind.SEVESO_HIGH: N_("Seveso upper-tier site"),
    SiteKind.SEVESO_LOW: N_("Seveso lower-tier site"),
    SiteKind.NUCLEAR: N_("nuclear plant"),
    SiteKind.RAIL_YARD: N_("rail yard"),
    SiteKind.DAM: N_("dam"),
    SiteKind.FLOOD_ZONE: N_("flood zone"),
    SiteKind.OTHER: N_("at-risk site"),
}


HAZARD: Mapping[Hazard, str] = {
    Hazard.RADIOLOGICAL: N_("radiological release"),
    Hazard.TOXIC_CLOUD: N_("toxic cloud"),
    Hazard.CHLORINE: N_("chlorine"),
    Hazard.AMMONIA: N_("ammonia"),
    Hazard.CORROSIVE: N_("corrosive substances"),
    Hazard.HYDROCARBONS: N_("hydrocarbons"),
    Hazard.LPG: N_("LPG"),
    Hazard.FIRE: N_("fire"),
    Hazard.EXPLOSION: N_("explosion"),
    Hazard.DANGEROUS_GOODS: N_("dangerous goods in transit"),
    Hazard.DAM_BREAK: N_("dam break"),
    Hazard.FLOODING: N_("flooding"),
}

# Words a register may use for a hazard beyond its labels.
_HAZARD_WORDS: Mapping[str, Hazard] = {
    "nuclear": Hazard.RADIOLOGICAL,
    "nucleaire": Hazard.RADIOLOGICAL,
    "radiologique": Hazard.RADIOLOGICAL,
    "nucleair": Hazard.RADIOLOGICAL,
    "toxic": Hazard.TOXIC_CLOUD,
    "toxique": Hazard.TOXIC_CLOUD,
    "chlore": Hazard.CHLORINE,
    "chloor": Hazard.CHLORINE,
    "ammoniac": Hazard.AMMONIA,
    "ammoniak": Hazard.AMMONIA,
    "acid": Hazard.CORROSIVE,
    "acide": Hazard.CORROSIVE,
    "zuur": Hazard.CORROSIVE,
    "corrosive": Hazard.CORROSIVE,
    "corrosif": Hazard.CORROSIVE,
    "gpl": Hazard.LPG,
    "lpg": Hazard.LPG,
    "hazmat": Hazard.DANGEROUS_GOODS,
    "tmd": Hazard.DANGEROUS_GOODS,
    "hazardousgoodsintransit": Hazard.DANGEROUS_GOODS,
    "dangerousgoods": Hazard.DANGEROUS_GOODS,
    "gevaarlijkegoederen": Hazard.DANGEROUS_GOODS,
    "matieresdangereuses": Hazard.DANGEROUS_GOODS,
    "flood": Hazard.FLOODING,
    "riverflooding": Hazard.FLOODING,
    "inondation": Hazard.FLOODING,
    "overstroming": Hazard.FLOODING,
}


def parse_hazard(word: str) -> Hazard | None:
    """A hazard from its code or its name in fr, nl or en (or a common word for it)."""
    table: dict[str, str] = {
        **_words_for(HAZARD),
        **{k: v.value for k, v in _HAZARD_WORDS.items()},
    }
    code = _lookup(word, table)
    return Hazard(code) if code else None


KIND_MARK: Mapping[SiteKind, str] = {
    SiteKind.SEVESO_HIGH: "☣️",
    SiteKind.SEVESO_LOW: "⚗️",
    SiteKind.NUCLEAR: "☢️",
    SiteKind.RAIL_YARD: "🚆",
    SiteKind.DAM: "🌊",
    SiteKind.FLOOD_ZONE: "💧",
    SiteKind.OTHER: "⚠️",
}


# --- time zones --------------------------------------------------------------------------------


# How people name the time of the zones around the border; any other zone is named after its
# city ("{city} time"), UTC as itself.
ZONE: Mapping[str, str] = {
    "Europe/Brussels": N_("Brussels time"),
    "Europe/Paris": N_("Paris time"),
    "Europe/Luxembourg": N_("Luxembourg time"),
    "Europe/Amsterdam": N_("Amsterdam time"),
}
ZONE_OF_CITY = N_("{city} time")


# --- media statements --------------------------------------------------------------------------


STATUS_LABEL = {"draft": N_("a draft"), "published": N_("published"), "rejected": N_("rejected")}


# --- resources ---------------------------------------------------------------------------------


TYPE: Mapping[ResourceType, str] = {
    ResourceType.AMBULANCE: N_("ambulance"),
    ResourceType.SMUR: N_("SMUR/MUG"),
    ResourceType.PIT: N_("PIT"),
    ResourceType.FIRE_ENGINE: N_("fire engine"),
    ResourceType.AERIAL_LADDER: N_("aerial ladder"),
    ResourceType.HAZMAT: N_("hazmat unit"),
    ResourceType.WATER_TENDER: N_("water tender"),
    ResourceType.PUMP: N_("pump"),
    ResourceType.BOAT: N_("boat"),
    ResourceType.RESCUE_TEAM: N_("rescue team"),
    ResourceType.CIVIL_PROTECTION: N_("civil-protection team"),
    ResourceType.BURNS_BED: N_("burns bed"),
    ResourceType.ICU_BED: N_("ICU bed"),
    ResourceType.SHELTER: N_("shelter places"),
    ResourceType.VOLUNTEERS: N_("volunteers"),
}


TYPE_MARK: Mapping[ResourceType, str] = {
    ResourceType.AMBULANCE: "🚑",
    ResourceType.SMUR: "🩺",
    ResourceType.PIT: "🩹",
    ResourceType.FIRE_ENGINE: "🚒",
    ResourceType.AERIAL_LADDER: "🪜",
    ResourceType.HAZMAT: "☣️",
    ResourceType.WATER_TENDER: "💧",
    ResourceType.PUMP: "⛽",
    ResourceType.BOAT: "🚤",
    ResourceType.RESCUE_TEAM: "🧗",
    ResourceType.CIVIL_PROTECTION: "🦺",
    ResourceType.BURNS_BED: "🛏",
    ResourceType.ICU_BED: "🏥",
    ResourceType.SHELTER: "🏠",
    ResourceType.VOLUNTEERS: "🙋",
}


UNIT_STATUS: Mapping[UnitStatus, str] = {
    UnitStatus.AVAILABLE: N_("available"),
    UnitStatus.COMMITTED: N_("committed"),
    UnitStatus.UNAVAILABLE: N_("unavailable"),
    UnitStatus.MAINTENANCE: N_("maintenance"),
}


OFFER_STATUS: Mapping[OfferStatus, str] = {
    OfferStatus.OFFERED: N_("asked"),
    OfferStatus.DECLINED: N_("declined"),
    OfferStatus.EXPIRED: N_("no answer"),
    OfferStatus.WITHDRAWN: N_("withdrawn"),
    OfferStatus.COMMITTED: N_("committed"),
    OfferStatus.EN_ROUTE: N_("en route"),
    OfferStatus.ON_SCENE: N_("on scene"),
    OfferStatus.RELEASED: N_("released"),
    OfferStatus.UNREACHABLE: N_("not asked: agency unreachable"),
    OfferStatus.RECALLED: N_("recalled"),
}


REQUEST_STATUS: Mapping[RequestStatus, str] = {
    RequestStatus.WAITING_LOCATION: N_("waiting for the location"),
    RequestStatus.OPEN: N_("open"),
    RequestStatus.FILLED: N_("filled"),
    RequestStatus.UNFILLED: N_("not filled"),
    RequestStatus.CANCELLED: N_("cancelled"),
}


STATUS_MARK: Mapping[UnitStatus, str] = {
    UnitStatus.AVAILABLE: "🟢",
    UnitStatus.COMMITTED: "🔵",
    UnitStatus.UNAVAILABLE: "🔴",
    UnitStatus.MAINTENANCE: "🔧",
}


# Words that responders type for a type, beyond its labels: service jargon on both sides.
_TYPE_WORDS: Mapping[str, ResourceType] = {
    "amb": ResourceType.AMBULANCE,
    "vsav": ResourceType.AMBULANCE,
    "ziekenwagen": ResourceType.AMBULANCE,
    "smur": ResourceType.SMUR,
    "mug": ResourceType.SMUR,
    "mobieleurgentiegroep": ResourceType.SMUR,
    "paramedicalinterventionteam": ResourceType.PIT,
    "fpt": ResourceType.FIRE_ENGINE,
    "fptsr": ResourceType.FIRE_ENGINE,
    "autopompe": ResourceType.FIRE_ENGINE,
    "autopomp": ResourceType.FIRE_ENGINE,
    "tankautospuit": ResourceType.FIRE_ENGINE,
    "epa": ResourceType.AERIAL_LADDER,
    "epsa": ResourceType.AERIAL_LADDER,
    "echelle": ResourceType.AERIAL_LADDER,
    "ladder": ResourceType.AERIAL_LADDER,
    "hoogwerker": ResourceType.AERIAL_LADDER,
    "hazmat": ResourceType.HAZMAT,
    "cmic": ResourceType.HAZMAT,
    "nrbc": ResourceType.HAZMAT,
    "gevaarlijkestoffen": ResourceType.HAZMAT,
    "ccgc": ResourceType.WATER_TENDER,
    "citerne": ResourceType.WATER_TENDER,
    "tankwagen": ResourceType.WATER_TENDER,
    "mpr": ResourceType.PUMP,
    "pomp": ResourceType.PUMP,
    "bateau": ResourceType.BOAT,
    "usar": ResourceType.RESCUE_TEAM,
    "grimp": ResourceType.RESCUE_TEAM,
    "plongeurs": ResourceType.RESCUE_TEAM,
    "duikers": ResourceType.RESCUE_TEAM,
    "protectioncivile": ResourceType.CIVIL_PROTECTION,
    "civielebescherming": ResourceType.CIVIL_PROTECTION,
    "civilprotection": ResourceType.CIVIL_PROTECTION,
    "burnbed": ResourceType.BURNS_BED,
    "grandsbrules": ResourceType.BURNS_BED,
    "litbrule": ResourceType.BURNS_BED,
    "icu": ResourceType.ICU_BED,
    "reanimation": ResourceType.ICU_BED,
    "litdereanimation": ResourceType.ICU_BED,
    "intensievezorg": ResourceType.ICU_BED,
    "shelter": ResourceType.SHELTER,
    "accueil": ResourceType.SHELTER,
    "opvang": ResourceType.SHELTER,
    "opvangcentrum": ResourceType.SHELTER,
    "centredaccueil": ResourceType.SHELTER,
    "rcsc": ResourceType.VOLUNTEERS,
    "benevole": ResourceType.VOLUNTEERS,
    "vrijwilliger": ResourceType.VOLUNTEERS,
    "volunteer": ResourceType.VOLUNTEERS,
}


# EMSI codes and the words agencies type for a status.
_STATUS_WORDS: Mapping[str, UnitStatus | OfferStatus] = {
    "avail": UnitStatus.AVAILABLE,
    "availb": UnitStatus.AVAILABLE,
    "dispo": UnitStatus.AVAILABLE,
    "unav": UnitStatus.UNAVAILABLE,
    "horsservice": UnitStatus.UNAVAILABLE,
    "buitendienst": UnitStatus.UNAVAILABLE,
    "maintc": UnitStatus.MAINTENANCE,
    "entretien": UnitStatus.MAINTENANCE,
    "onderhoud": UnitStatus.MAINTENANCE,
    "enroute": OfferStatus.EN_ROUTE,
    "onderweg": OfferStatus.EN_ROUTE,
    "onscene": OfferStatus.ON_SCENE,
    "surplace": OfferStatus.ON_SCENE,
    "surleslieux": OfferStatus.ON_SCENE,
    "terplaatse": OfferStatus.ON_SCENE,
}


def _words_for(labels: Mapping[E, str]) -> dict[str, str]:
    """fold(label in each language, and code) → code."""
    found: dict[str, str] = {}
    for code, label in labels.items():
        found[fold(code.value)] = code.value
        for language in LANGUAGES:
            found.setdefault(fold(translator(language).gettext(label)), code.value)
    return found


def _singulars(word: str) -> list[str]:
    """What a plural word may be the plural of, in French or Dutch: ambulances, engins x,
    autopompen, bedden (bed), boten (boot)."""
    found = []
    lowered = word.casefold()
    for ending in ("s", "x", "en"):
        if lowered.endswith(ending) and len(lowered) > len(ending) + 1:
            stem = lowered[: -len(ending)]
            found.append(stem)
            if ending == "en":
                if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "aeiou":
                    found.append(stem[:-1])  # bedden -> bed, tanken stays tank
                elif len(stem) > 2 and stem[-1] not in "aeiou" and stem[-2] in "aeou":
                    found.append(stem[:-1] + stem[-2] + stem[-1])  # boten -> boot
    return found


def _lookup(word: str, table: Mapping[str, str]) -> str | None:
    folded = fold(word)
    if not folded:
        return None
    if folded in table:
        return table[folded]
    # plurals, of any one word of a name: ambulances, ziekenwagens, lits grands brûlés,
    # lits de réanimation, cellules risques chimiques, bedden intensieve zorg, boten
    words = word.split()
    for position, plural in enumerate(words):
        for singular in _singulars(plural):
            candidate = fold(" ".join([*words[:position], singular, *words[position + 1 :]]))
            if candidate in table:
                return table[candidate]
    return None


def parse_type(word: str) -> ResourceType | None:
    """A resource type from its code or its name in any of fr, nl, en (or service jargon),
    ignoring case, accents, spaces and dashes."""
    table: dict[str, str] = {**_words_for(TYPE), **{k: v.value for k, v in _TYPE_WORDS.items()}}
    code = _lookup(word, table)
    return ResourceType(code) if code else None


def parse_type_words(words: Sequence[str], longest: int = 4) -> tuple[ResourceType | None, int]:
    """The type named by the first words ("fire engine", "lit grands brûlés") and how many
    words it took; the longest match wins."""
    for size in range(min(longest, len(words)), 0, -1):
        found = parse_type(" ".join(words[:size]))
        if found is not None:
            return found, size
    return None, 0


def parse_status(word: str) -> UnitStatus | OfferStatus | None:
    """available | unavailable | maintenance | en route | on scene, in any language or as
    the EMSI code."""
    folded = fold(word)
    if folded in _STATUS_WORDS:
        return _STATUS_WORDS[folded]
    code = _lookup(word, _words_for(UNIT_STATUS))
    if code:
        return UnitStatus(code)
    deployment = _words_for(
        {k: v for k, v in OFFER_STATUS.items() if k in (OfferStatus.EN_ROUTE, OfferStatus.ON_SCENE)}
    ).get(folded)
    return OfferStatus(deployment) if deployment else None


def parse_status_words(words: Sequence[str]) -> tuple[UnitStatus | OfferStatus | None, int]:
    for size in (3, 2, 1):
        if len(words) >= size:
            found = parse_status(" ".join(words[:size]))
            if found is not None:
                return found, size
    return None, 0


def parse_country(word: str) -> Country | None:
    folded = fold(word)
    for country in Country:
        names = {fold(country.value)} | {
            fold(translator(lang).gettext(_COUNTRY_NAMES[country])) for lang in LANGUAGES
        }
        if folded in names:
            return country
    return None


_COUNTRY_NAMES = {Country.FR: N_("France"), Country.BE: N_("Belgium")}
