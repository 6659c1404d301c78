"""The situation board from Telegram: `/start board_<ref>` (the deep link of a group card's
Board button) answered in private with the board's `web_app` button, and `/board` (a personal
link for a command post's screen; `/board revoke` ends them all). The board itself is
bot/board (its server checks every request again)."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update

from bot.board import access, tokens
from bot.core.config import Settings
from bot.core.db import utcnow
from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.incidents import service as incidents
from bot.render.board import (
    render_board_elsewhere,
    render_board_invite,
    render_personal_link,
    render_revoked,
)
from bot.render.keyboards import BoardLinks, board_keyboard, parse_board_start
from handlers import basics
from handlers.context import PContext

# `/board revoke`, as a French or Dutch responder may type it
_REVOKE = frozenset({"revoke", "revoquer", "révoquer", "intrekken"})
_NOT_ENABLED = N_("The situation board is not enabled on this Passerelle.")


# bot_data's key for the board's links, set by bot.app once the web server listens (its port
# is known only then when [board] port = 0)
BOARD_LINKS = "board_links"


def links_for(
    settings: Settings, bot_username: str | None, url: str | None = None
) -> BoardLinks | None:
    """The board's links, or None when the board is off (no Board button on the cards).
    `url`: where the server listens, when [board] public_url does not say."""
    if not settings.board.enabled or not bot_username:
        return None
    return BoardLinks(
        bot_username=bot_username,
        public_url=url or settings.board_url,
        app_name=settings.board.app_name,
    )


def _links(context: PContext) -> BoardLinks | None:
    known: BoardLinks | None = context.application.bot_data.get(BOARD_LINKS)
    return known or links_for(context.runtime.settings, context.bot.username)


async def _may_see(context: PContext, ref: int) -> bool:
    """Whether the board would show this person this incident (bot.board.access's rule)."""
    unit, person = context.unit, context.actor.person
    chats, languages = await access.known_chats_in(unit, person)
    viewer = access.Viewer(person=person, chats=chats, chat_languages=languages)
    return await access.may_see_in(unit, viewer, ref)


async def start(update: Update, context: PContext) -> None:
    """`/start`: what Passerelle is; `/start board_<ref>` in private: that incident's board."""
    words = list(context.args or [])
    ref = parse_board_start(words[0]) if len(words) == 1 else None
    if ref is None or not context.actor.is_private:
        await basics.help_command(update, context)
        return
    links = _links(context)
    if links is None:
        raise UserError(_NOT_ENABLED)
    actor = context.actor
    unit = context.unit
    incident = await incidents.incident_in(unit, ref)
    # an incident the person may not see is answered exactly like a missing one: no leak
    if incident is None or not await _may_see(context, ref):
        raise UserError(N_("There is no incident #{ref} here."), ref=ref)
    if not links.opens_in_telegram:
        # a local test on plain http: Telegram would refuse the web_app button
        context.answer(render_board_elsewhere(actor.own_language, incident, links.page(ref)))
        return
    context.answer(
        render_board_invite(actor.own_language, incident),
        markup=board_keyboard(ref, actor.own_language, links),
    )


async def board_command(update: Update, context: PContext) -> None:
    """`/board`: a personal link to the board; `/board revoke`: every one of them ended."""
    words = [w.lower() for w in (context.args or [])]
    if len(words) > 1 or (words and words[0] not in _REVOKE):
        raise UserError(
            N_("Usage: /board for a personal link to the board, /board revoke to end them.")
        )
    actor = context.actor
    if words:
        count = await tokens.revoke(context.unit, actor.person.id)
        context.answer(render_revoked(actor.own_language, count))
        return
    links = _links(context)
    if links is None:
        raise UserError(_NOT_ENABLED)
    days = context.runtime.settings.board.token_days
    token = await tokens.issue(context.unit, actor.person.id, days)
    context.answer(
        render_personal_link(
            actor.own_language,
            links.personal(token),
            utcnow() + timedelta(days=days),
            actor.timezone,
        )
    )
