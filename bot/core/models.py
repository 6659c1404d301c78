"""The domain's data: enums, pydantic models and dataclasses shared by services and renderers.
Nothing here reads the database or talks to Telegram."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

LANGUAGES = ("en", "fr", "nl")


class Role(StrEnum):
    ADMIN = "admin"
    COMMANDER = "commander"
    LIAISON = "liaison"
    SPOKESPERSON = "spokesperson"
    # Not configured: everyone who posts in a registered chat is a responder.
    RESPONDER = "responder"


class ChatKind(StrEnum):
    OPERATIONS = "operations"
    LIAISON = "liaison"
    AGENCY = "agency"
    MEDIA = "media"


class Country(StrEnum):
    FR = "FR"
    BE = "BE"


class Severity(StrEnum):
    """CAP 1.2 severity words."""

    MINOR = "minor"
    MODERATE = "moderate"
    SEVERE = "severe"
    EXTREME = "extreme"


class IncidentStatus(StrEnum):
    REPORTED = "reported"
    ACTIVE = "active"
    CONTAINED = "contained"
    CLOSED = "closed"


class TimelineKind(StrEnum):
    DECLARED = "declared"
    NOTE = "note"
    LOCATION = "location"
    STATUS = "status"
    SEVERITY = "severity"
    FIELD = "field"
    ASSIGNED = "assigned"
    CLOSED = "closed"
    ALERT = "alert"  # text: the alert's id
    STATEMENT = "statement"  # text: the published statement; field: who approved it
    PHASE = "phase"  # field: the country; text: the level reached (Level)
    # a country other than the incident's made involved by an escalation: field: the
    # country; text: the level it is involved at (Level)
    INVOLVED = "involved"
    # what the field sent: photos, videos, voice notes, documents, a contact, a venue (its
    # items: TimelineEntry.media; an album is one entry); field: the first item's MediaKind;
    # text: the caption
    MEDIA = "media"


class IncidentField(StrEnum):
    """What `/set` may change."""

    TITLE = "title"
    TYPE = "type"
    SEVERITY = "severity"
    STATUS = "status"
    LOCATION = "location"


class Assignment(StrEnum):
    """Roles held for one incident, named by `/assign`."""

    COMMANDER = "commander"
    SPOKESPERSON = "spokesperson"
    LIAISON = "liaison"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Person(_Model):
    id: int
    name: str
    username: str | None = None
    roles: frozenset[Role] = frozenset()
    country: Country | None = None
    agency: str | None = None
    language: str | None = None  # chosen (configuration or /lang)
    telegram_language: str | None = None  # as Telegram reported it

    def reads(self, default: str) -> str:
        """The language to write to this person in private."""
        return self.language or self.telegram_language or default

    @property
    def is_known(self) -> bool:
        """Configured or given a role: more than a passer-by."""
        return bool(self.roles)


class Chat(_Model):
    id: int
    name: str
    kind: ChatKind
    country: Country
    languages: tuple[str, ...]
    agency: str | None = None
    timezone: str


class PersonRef(_Model):
    id: int
    name: str


class Incident(_Model):
    ref: int
    chat_id: int
    title: str
    type: str | None
    severity: Severity | None
    status: IncidentStatus
    location_text: str | None
    lat: float | None
    lon: float | None
    country: Country
    commander: PersonRef | None
    spokesperson: PersonRef | None
    liaison: PersonRef | None
    exercise: bool
    declared_at: datetime
    updated_at: datetime
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status is not IncidentStatus.CLOSED


class MediaKind(StrEnum):
    """What a message on the timeline carries besides words (Telegram's message kinds)."""

    PHOTO = "photo"
    VIDEO = "video"
    VIDEO_NOTE = "video_note"  # the round video message
    VOICE = "voice"  # a voice note
    AUDIO = "audio"  # an audio file
    DOCUMENT = "document"
    CONTACT = "contact"  # a shared contact: no file
    VENUE = "venue"  # a shared venue (a place with a name and an address): no file

    @property
    def has_file(self) -> bool:
        return self not in (MediaKind.CONTACT, MediaKind.VENUE)


class MediaItem(_Model):
    """One file (or contact, or venue) of a timeline entry; an album has several."""

    id: int
    entry_id: int
    incident_ref: int
    kind: MediaKind
    chat_id: int
    message_id: int
    media_group_id: str | None = None
    author: PersonRef | None = None
    caption: str | None = None
    file_id: str | None = None
    file_unique_id: str | None = None
    file_size: int | None = None  # bytes, as Telegram gave it
    duration: int | None = None  # seconds
    width: int | None = None
    height: int | None = None
    mime_type: str | None = None
    file_name: str | None = None
    name: str | None = None  # a contact's name, a venue's title
    phone: str | None = None  # a contact's phone number
    address: str | None = None  # a venue's address
    lat: float | None = None  # a venue's coordinates
    lon: float | None = None
    at: datetime


@dataclass(frozen=True)
class MediaSent:
    """One message's media as the handler read it from Telegram: plain values for the
    service (a photo: its largest size)."""

    kind: MediaKind
    message_id: int
    media_group_id: str | None = None
    caption: str | None = None
    file_id: str | None = None
    file_unique_id: str | None = None
    file_size: int | None = None
    duration: int | None = None
    width: int | None = None
    height: int | None = None
    mime_type: str | None = None
    file_name: str | None = None
    name: str | None = None
    phone: str | None = None
    address: str | None = None
    lat: float | None = None
    lon: float | None = None


class Revision(_Model):
    """An earlier wording of a timeline entry: written then, replaced by an edit then."""

    text: str | None
    written_at: datetime
    replaced_at: datetime


class TimelineEntry(_Model):
    id: int
    incident_ref: int
    kind: TimelineKind
    author: PersonRef | None
    chat_id: int | None
    # For notes: the responder's words; for changes: the new value (a status, a severity,
    # a field's new text); for assignments: "<assignment>:<name>".
    text: str | None
    field: str | None
    lat: float | None
    lon: float | None
    at: datetime
    # its author edited the message: `text` is the latest wording, edited then; the earlier
    # wordings, oldest first
    edited_at: datetime | None = None
    earlier: tuple[Revision, ...] = ()
    # what a MEDIA entry carries, in the order it arrived (an album: every item)
    media: tuple[MediaItem, ...] = ()


class KeepStatus(StrEnum):
    """Where the download of a file on the timeline stands (bot.evidence)."""

    PENDING = "pending"  # queued, or being retried
    KEPT = "kept"  # downloaded: path, SHA-256 and size recorded
    TOO_BIG = "too_big"  # over the Bot API's download limit (20 MB): not downloaded
    CAP = "cap"  # the evidence folder reached its configured size: not kept
    FAILED = "failed"  # retried and given up (the reason says why: 5xx, gone …)


@dataclass(frozen=True)
class KeptFile:
    """A file on the timeline and what became of it: for the report and its export."""

    item: MediaItem
    status: KeepStatus
    path: str | None  # relative to the evidence folder (bot.evidence.keeper.folder)
    sha256: str | None
    size: int | None  # bytes kept
    reason: str | None  # why not kept (or, while pending, the last error)
    attempts: int
    done_at: datetime | None


@dataclass(frozen=True)
class MessageLink:
    """What a bot message is about: an incident, and for some messages more (`purpose`: the
    outbox's, e.g. "request" for a request card, "evaluation" for an evaluation question, with
    the request's or evaluation's id as `subject_id`)."""

    incident_ref: int
    purpose: str | None
    subject_id: int | None


# --- resources: the roster and requests (EMSI statuses, EDXL-RM lifecycle) ---------------


class ResourceType(StrEnum):
    AMBULANCE = "ambulance"
    SMUR = "smur"  # SMUR (FR, BE fr) = MUG (BE nl): emergency physician team
    PIT = "pit"  # paramedical intervention team
    FIRE_ENGINE = "fire_engine"
    AERIAL_LADDER = "aerial_ladder"
    HAZMAT = "hazmat"
    WATER_TENDER = "water_tender"
    PUMP = "pump"
    BOAT = "boat"
    RESCUE_TEAM = "rescue_team"  # rope, USAR, diving
    CIVIL_PROTECTION = "civil_protection"
    BURNS_BED = "burns_bed"
    ICU_BED = "icu_bed"
    SHELTER = "shelter"  # places in a reception centre
    VOLUNTEERS = "volunteers"  # RCSC and similar

    @property
    def counted(self) -> bool:
        """A facility whose capacity is committed by the count (beds, places, persons), not
        whole as a vehicle is."""
        return self in COUNTED


COUNTED = frozenset(
    {
        ResourceType.BURNS_BED,
        ResourceType.ICU_BED,
        ResourceType.SHELTER,
        ResourceType.VOLUNTEERS,
    }
)


class UnitStatus(StrEnum):
    """EMSI (ISO/TR 22351) resource statuses."""

    AVAILABLE = "available"  # AVAILB
    COMMITTED = "committed"  # IN_USE
    UNAVAILABLE = "unavailable"  # UNAV
    MAINTENANCE = "maintenance"  # MAINTC


class OfferStatus(StrEnum):
    """One unit asked for one request: EDXL-RM's CommitResource, then its deployment."""

    OFFERED = "offered"  # asked, no answer yet
    DECLINED = "declined"
    EXPIRED = "expired"  # no answer in time
    WITHDRAWN = "withdrawn"  # filled or cancelled before an answer, or the unit went elsewhere
    COMMITTED = "committed"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RELEASED = "released"
    # not asked: in range, but its agency has no chat Passerelle can reach (recorded when
    # the request cannot be filled, so that the card names it and a liaison can phone)
    UNREACHABLE = "unreachable"
    # taken back by its own agency after committing (the request reopens for what is missing)
    RECALLED = "recalled"

    @property
    def engaged(self) -> bool:
        return self in (OfferStatus.COMMITTED, OfferStatus.EN_ROUTE, OfferStatus.ON_SCENE)


class RequestStatus(StrEnum):
    WAITING_LOCATION = "waiting_location"  # the incident has no location yet
    OPEN = "open"
    FILLED = "filled"
    UNFILLED = "unfilled"  # nobody (else) can help
    CANCELLED = "cancelled"


# Who "confirmed" a unit whose status was last set by a roster import.
CONFIRMED_BY_FILE = "import"


class Unit(_Model):
    id: int
    code: str
    type: ResourceType
    name: str
    agency: str
    country: Country
    lat: float
    lon: float
    capacity: int
    status: UnitStatus
    deployment: OfferStatus | None = None  # committed: committed, en route or on scene
    incident_ref: int | None = None
    note: str | None = None
    sample: bool = False
    confirmed_at: datetime | None = None
    confirmed_by: str | None = None  # a person's name, or CONFIRMED_BY_FILE
    # a facility (type.counted): places free now, when its owner last reported them (HAVE,
    # /unit), and what incidents hold ((incident ref, places), oldest first)
    free: int | None = None
    reported_at: datetime | None = None
    held: tuple[tuple[int, int], ...] = ()

    @property
    def counted(self) -> bool:
        return self.free is not None

    def availability_stale(self, now: datetime, stale_after_hours: float) -> bool:
        """A facility whose availability (free count) was last reported too long ago."""
        moment = self.reported_at or self.confirmed_at
        if moment is None:
            return True
        return (now - moment).total_seconds() > stale_after_hours * 3600

    def is_stale(self, now: datetime, stale_after_hours: float) -> bool:
        """Not confirmed (roll-call, a status change) for longer than allowed."""
        if self.confirmed_at is None:
            return True
        return (now - self.confirmed_at).total_seconds() > stale_after_hours * 3600


class Offer(_Model):
    id: int
    request_id: int
    unit: Unit
    distance_km: float
    eta_minutes: int
    amount: int  # how much of the request this unit covers once committed
    status: OfferStatus
    asked: int = 0  # a facility: the places asked of it (it may commit fewer)
    recalled_at: datetime | None = None
    recall_reason: str | None = None
    offered_at: datetime
    expires_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    en_route_at: datetime | None = None
    on_scene_at: datetime | None = None
    released_at: datetime | None = None

    @property
    def estimated_arrival(self) -> datetime | None:
        """EDXL-RM EstimatedArrival: from the commitment, at the configured road speed."""
        if self.decided_at is None or self.status in (
            OfferStatus.OFFERED,
            OfferStatus.DECLINED,
            OfferStatus.EXPIRED,
            OfferStatus.WITHDRAWN,
            OfferStatus.UNREACHABLE,
            OfferStatus.RECALLED,
        ):
            return None
        return self.decided_at + timedelta(minutes=self.eta_minutes)


class ResourceRequest(_Model):
    id: int
    incident_ref: int
    incident_title: str
    incident_country: Country
    exercise: bool
    chat_id: int
    type: ResourceType
    quantity: int
    committed: int
    note: str | None
    status: RequestStatus
    requested_by: PersonRef | None
    created_at: datetime
    closed_at: datetime | None
    offers: tuple[Offer, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status in (RequestStatus.OPEN, RequestStatus.WAITING_LOCATION)


# --- who acts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Author:
    """Who acts, as Telegram names them."""

    id: int
    name: str
    username: str | None = None
    language: str | None = None  # what Telegram says they read (en, fr, nl)


# --- escalation phases -------------------------------------------------------------------------


class Level(StrEnum):
    COMMUNAL = "communal"
    PROVINCIAL = "provincial"  # BE: the governor
    FEDERAL = "federal"  # BE: the Minister of the Interior
    DEPARTMENTAL = "departmental"  # FR: the préfet
    ZONAL = "zonal"  # FR: the préfet de zone de défense et de sécurité
    NATIONAL = "national"  # FR: the Minister of the Interior, COGIC
    EU = "eu"  # the EU Civil Protection Mechanism, through the ERCC


class Involvement(StrEnum):
    """Why a country shows on an incident's card with a phase line."""

    OWN = "own"  # the incident is on its territory: its authorities are in charge
    ESCALATED = "escalated"  # an escalation made it involved (a plume across the border)
    UNITS = "units"  # only its units work the incident, under the incident country's command


@dataclass(frozen=True)
class PhaseState:
    country: Country
    level: Level
    since: datetime
    involvement: Involvement = Involvement.OWN
    by: str | None = None  # who made the country involved (Involvement.ESCALATED)


@dataclass(frozen=True)
class PhasePeriod:
    """One level held for a time (the after-action report's phases)."""

    country: Country
    level: Level
    started_at: datetime
    ended_at: datetime | None
    started_by: str | None


# --- places and at-risk sites ------------------------------------------------------------------


class SiteKind(StrEnum):
    SEVESO_HIGH = "seveso_high"
    SEVESO_LOW = "seveso_low"
    NUCLEAR = "nuclear"
    RAIL_YARD = "rail_yard"
    DAM = "dam"
    FLOOD_ZONE = "flood_zone"
    OTHER = "other"


class Hazard(StrEnum):
    """What a site may release or cause; anything else goes in the site's free note."""

    RADIOLOGICAL = "radiological"
    TOXIC_CLOUD = "toxic_cloud"
    CHLORINE = "chlorine"
    AMMONIA = "ammonia"
    CORROSIVE = "corrosive"
    HYDROCARBONS = "hydrocarbons"
    LPG = "lpg"
    FIRE = "fire"
    EXPLOSION = "explosion"
    DANGEROUS_GOODS = "dangerous_goods"
    DAM_BREAK = "dam_break"
    FLOODING = "flooding"


@dataclass(frozen=True)
class Site:
    code: str
    name: str
    kind: SiteKind
    country: Country
    lat: float
    lon: float
    radius_km: float
    hazards: tuple[Hazard, ...] = ()
    hazard_note: str | None = None  # free text, in the words of whoever wrote the file
    population: int | None = None
    plan: str | None = None
    sample: bool = False


@dataclass(frozen=True)
class SiteNear:
    site: Site
    distance_km: float

    @property
    def inside(self) -> bool:
        """Within the site's planning radius."""
        return self.distance_km <= self.site.radius_km


@dataclass(frozen=True)
class Place:
    id: int  # its line in gazetteer.csv (stable while the file is): for buttons
    name: str
    country: Country
    region: str  # French department or Belgian province
    lat: float
    lon: float
    population: int
    also: tuple[str, ...] = ()  # names in the other languages

    @property
    def label(self) -> str:
        """'Comines (Hainaut, BE)': unambiguous where the name alone is not."""
        return f"{self.name} ({self.region}, {self.country.value})"

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.also)


@dataclass(frozen=True)
class Surroundings:
    phases: tuple[PhaseState, ...] = ()
    sites: tuple[SiteNear, ...] = ()  # those whose planning radius the incident lies in


# --- alerts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    id: int
    incident: Incident | None
    author: PersonRef
    severity: Severity
    texts: dict[str, str]
    exercise: bool
    origin_chat_id: int
    tally_message_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class TargetState:
    chat_id: int
    chat_name: str
    delivered_at: datetime | None
    acked_at: datetime | None
    ackers: tuple[str, ...]
    unreachable: bool


@dataclass(frozen=True)
class Tally:
    alert: Alert
    targets: tuple[TargetState, ...]

    @property
    def acknowledged(self) -> int:
        return sum(1 for t in self.targets if t.acked_at is not None)


# --- media statements --------------------------------------------------------------------------


class StatementStatus:
    DRAFT = "draft"
    PUBLISHED = "published"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Statement:
    id: int
    incident: Incident
    author: PersonRef
    origin_chat_id: int
    texts: dict[str, str]
    version: int
    status: str
    decided_by: PersonRef | None
    decided_at: datetime | None
    created_at: datetime


# --- after-action ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    id: int
    incident_ref: int
    party: str  # "" for the command, else the agency
    chat_id: int
    message_id: int | None
    rating: int | None
    comment: str | None
    person: str | None
    asked_at: datetime
    answered_at: datetime | None


@dataclass(frozen=True)
class UnitLine:
    """One unit asked for one request (EDXL-RM: request, commit, arrival, release)."""

    code: str
    name: str
    agency: str
    country: str
    crossed_border: bool
    status: str
    distance_km: float
    eta_minutes: int
    offered_at: datetime
    committed_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    released_at: datetime | None
    request_to_commit_min: float | None
    commit_to_arrival_min: float | None
    arrival_to_release_min: float | None
    request_to_arrival_min: float | None
    # a facility (beds, places, persons): how many of its places were committed
    places: int | None = None


@dataclass(frozen=True)
class RequestLine:
    id: int
    type: str
    quantity: int
    committed: int
    status: str
    note: str | None
    requested_by: str | None
    requested_at: datetime
    closed_at: datetime | None
    units: tuple[UnitLine, ...] = ()


@dataclass(frozen=True)
class AlertLine:
    id: int
    severity: str
    text: str
    sent_at: datetime
    chats: int
    acknowledged: int
    # every language's text as given ("fr: … | nl: …"), by language; `text` is the default
    texts: dict[str, str] = field(default_factory=dict)

    @property
    def ack_rate(self) -> float | None:
        return self.acknowledged / self.chats if self.chats else None


@dataclass(frozen=True)
class StatementLine:
    id: int
    published_at: datetime | None
    texts: dict[str, str]


@dataclass(frozen=True)
class Report:
    incident: Incident
    generated_at: datetime
    timeline: tuple[TimelineEntry, ...]
    phases: tuple[PhasePeriod, ...]
    requests: tuple[RequestLine, ...]
    alerts: tuple[AlertLine, ...]
    statements: tuple[StatementLine, ...]
    evaluations: tuple[Evaluation, ...]
    duration_min: float | None = field(default=None)
    # the files sent to the timeline and what became of each (bot.evidence)
    files: tuple[KeptFile, ...] = ()
    # small JPEGs of the kept photos, by media item id (bot.reports.thumbnails)
    thumbnails: dict[int, bytes] = field(default_factory=dict)

    @property
    def crossings(self) -> list[UnitLine]:
        """The cross-border interventions: units of the other country that were committed."""
        return [
            u
            for r in self.requests
            for u in r.units
            if u.crossed_border and u.committed_at is not None
        ]


@dataclass(frozen=True)
class RosterEntry:
    """One unit as a roster file gives it."""

    code: str
    type: ResourceType
    name: str
    agency: str
    country: Country
    lat: float
    lon: float
    capacity: int
    status: UnitStatus
    note: str | None
    sample: bool


@dataclass(frozen=True)
class ImportReport:
    added: int
    updated: int  # rows that differed from the file
    removed: int
    kept_committed: list[str]
    unchanged: int = 0  # rows already as the file has them: not written
