"""The domain's vocabulary: enums and pydantic models shared by services and renderers."""

from __future__ import annotations

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
    PHASE = "phase"  # field: the country; text: the level reached (bot.phases.Level)


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


class IncidentCard(_Model):
    """Where an incident's card lives in one chat."""

    incident_ref: int
    chat_id: int
    message_id: int | None
    version: int
    shown_version: int


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

    @property
    def engaged(self) -> bool:
        return self in (OfferStatus.COMMITTED, OfferStatus.EN_ROUTE, OfferStatus.ON_SCENE)


class RequestStatus(StrEnum):
    WAITING_LOCATION = "waiting_location"  # the incident has no location yet
    OPEN = "open"
    FILLED = "filled"
    UNFILLED = "unfilled"  # nobody (else) can help
    CANCELLED = "cancelled"


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
    confirmed_by: str | None = None


class Offer(_Model):
    id: int
    request_id: int
    unit: Unit
    distance_km: float
    eta_minutes: int
    amount: int  # how much of the request this unit covers once committed
    status: OfferStatus
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
