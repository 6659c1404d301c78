"""Who may do what: one table of action × role. Handlers ask before calling a service, and
buttons are asked again on every press."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from bot.core.models import Incident, Person, Role


class Action(StrEnum):
    DECLARE = "declare"  # /incident, /exercise
    LOG = "log"  # /log, replies, shared locations
    UPDATE = "update"  # /set, status and severity buttons
    ASSIGN = "assign"  # /assign
    CLOSE = "close"  # /close
    VIEW_STATUS = "view_status"  # /status
    REQUEST = "request"  # /request, /release, /cancel: resources for an incident
    VIEW_ROSTER = "view_roster"  # /roster, /unit <code>
    # /unit <code> <status>, offers, roll-call: also checked against the unit's agency
    UNIT = "unit"
    ALERT = "alert"  # /alert, /cap
    VIEW_ALERTS = "view_alerts"  # /alerts
    ACKNOWLEDGE = "acknowledge"  # the Acknowledge button, in a chat the alert went to
    STATEMENT = "statement"  # /statement: a draft, or published if the incident's spokesperson
    ESCALATE = "escalate"  # /escalate, /deescalate: the phase of each country involved
    VIEW_SITES = "view_sites"  # /sites, /map
    REPORT = "report"  # /report: the after-action report


_COMMAND = frozenset({Role.ADMIN, Role.COMMANDER})

ALLOWED: Mapping[Action, frozenset[Role]] = {
    Action.DECLARE: _COMMAND,
    Action.LOG: frozenset(Role),
    Action.UPDATE: _COMMAND,
    Action.ASSIGN: _COMMAND,
    Action.CLOSE: _COMMAND,
    Action.VIEW_STATUS: frozenset({Role.ADMIN, Role.COMMANDER, Role.LIAISON}),
    Action.REQUEST: _COMMAND,
    Action.VIEW_ROSTER: frozenset(Role),
    Action.UNIT: frozenset(Role),
    Action.ALERT: frozenset({Role.ADMIN, Role.LIAISON}),
    Action.VIEW_ALERTS: frozenset({Role.ADMIN, Role.COMMANDER, Role.LIAISON}),
    Action.ACKNOWLEDGE: frozenset(Role),
    # publishing itself is checked against the incident's own spokesperson, not this role
    Action.STATEMENT: frozenset({Role.ADMIN, Role.COMMANDER, Role.LIAISON, Role.SPOKESPERSON}),
    Action.ESCALATE: _COMMAND,
    Action.VIEW_SITES: frozenset(Role),
    Action.REPORT: frozenset({Role.ADMIN, Role.COMMANDER, Role.LIAISON}),
}


def roles_of(person: Person, incident: Incident | None = None) -> frozenset[Role]:
    """Configured roles, plus what `/assign` gave the person for this incident."""
    roles = set(person.roles) | {Role.RESPONDER}
    if incident is not None:
        if incident.commander and incident.commander.id == person.id:
            roles.add(Role.COMMANDER)
        if incident.spokesperson and incident.spokesperson.id == person.id:
            roles.add(Role.SPOKESPERSON)
        if incident.liaison and incident.liaison.id == person.id:
            roles.add(Role.LIAISON)
    return frozenset(roles)


def may(person: Person, action: Action, incident: Incident | None = None) -> bool:
    return bool(roles_of(person, incident) & ALLOWED[action])


def needed_roles(action: Action) -> list[Role]:
    """The roles to name when refusing, most specific first (admin last)."""
    order = [Role.COMMANDER, Role.LIAISON, Role.SPOKESPERSON, Role.ADMIN]
    return [role for role in order if role in ALLOWED[action]]
