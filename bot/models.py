"""The domain's vocabulary: enums and pydantic models shared by services and renderers."""

from __future__ import annotations

from datetime import datetime
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
    language: str | None = None

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
