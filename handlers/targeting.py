"""Which incident a command is about: an optional `#ref` among its words, otherwise the
chat's most recent open incident. Also the permission check that depends on it."""

from __future__ import annotations

import re

from bot.core.errors import AnyOf, Term, UserError
from bot.core.i18n import N_
from bot.core.models import Incident
from bot.core.policy import Action, may, needed_roles
from bot.core.vocabulary import ROLE
from bot.incidents import service as incidents
from handlers.context import PContext

_REF = re.compile(r"^#(\d{1,9})$")


def split_ref(words: list[str]) -> tuple[int | None, list[str]]:
    """Take the first `#12` out of the words."""
    for i, word in enumerate(words):
        match = _REF.match(word)
        if match:
            return int(match.group(1)), words[:i] + words[i + 1 :]
    return None, words


def refusal(action: Action) -> UserError:
    return UserError(
        N_("You may not do that. It takes one of these roles: {roles}."),
        roles=AnyOf(Term(ROLE[role]) for role in needed_roles(action)),
    )


async def target(context: PContext, words: list[str], action: Action) -> tuple[Incident, list[str]]:
    """The incident the command acts on and the remaining words; refuses when the actor may
    not act on it. In a group, only that group's incidents can be reached."""
    actor = context.actor
    unit = context.unit
    ref, rest = split_ref(words)
    incident: Incident | None
    if ref is not None:
        incident = await incidents.incident_in(unit, ref)
        # another chat's incident is answered exactly like a missing one: no leak
        if incident is None or (actor.chat is not None and incident.chat_id != actor.chat_id):
            raise UserError(N_("There is no incident #{ref} here."), ref=ref)
    elif actor.chat is not None:
        incident = await incidents.latest_open_in(unit, actor.chat_id)
        if incident is None:
            raise UserError(
                N_(
                    "There is no open incident in this chat. Declare one with "
                    "/incident followed by a title."
                )
            )
    else:
        raise UserError(N_("Name the incident, for example #12."))
    if not may(actor.person, action, incident):
        raise refusal(action)
    if not incident.is_open:
        raise UserError(N_("Incident #{ref} is closed."), ref=incident.ref)
    return incident, rest
