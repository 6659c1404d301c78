"""The gate, run first for every update (handler group -1). It opens the update's unit of work
and claims the update in it (a redelivered update stops here, quietly), then answers: is the
chat registered? Who is acting, in which languages? Everything after it can rely on
`context.actor` and `context.unit`; the unit is committed by the handler that takes the update
(handlers.wrapper), or by `finish_update` in the last group when none does."""

from __future__ import annotations

import logging

from telegram import Chat as TgChat
from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.ext import ApplicationHandlerStop

from bot.core import directory
from bot.core.db import StorageLost
from bot.core.i18n import N_, normalize_language
from bot.core.models import Person
from bot.lifecycle import chats
from bot.render.common import text
from handlers.context import Actor, PContext, render_text
from handlers.errors import notify_failure

log = logging.getLogger(__name__)

# The handler group of `finish_update`: after every other.
LAST_GROUP = 100


async def gate(update: Update, context: PContext) -> None:
    chat = update.effective_chat
    user = update.effective_user
    migration = _migration(update)  # a service message: its sender may be anyone, or none
    if chat is None or (migration is None and (user is None or user.is_bot)):
        raise ApplicationHandlerStop
    try:
        context.begin(update, await context.runtime.db.begin())
        if not await context.unit.claim(update.update_id):
            log.info("event=duplicate_update update=%d", update.update_id)
            await context.abandon()
            raise ApplicationHandlerStop
        if await _open(update, context):
            return
        # the update ends here: what the gate decided is stored and answered
        await context.finish()
    except ApplicationHandlerStop:
        raise
    except StorageLost:
        # the database connection broke: not handled, handled again (bot.delivery.inbox)
        await context.abandon()
        raise
    except Exception:
        # no handler may run without knowing who acts where: stop this update here
        log.exception("event=gate_failed update=%d", update.update_id)
        await context.abandon()
        await notify_failure(update, context)
    raise ApplicationHandlerStop


async def _open(update: Update, context: PContext) -> bool:
    """Resolve the actor; False when the update goes no further than the gate."""
    runtime = context.runtime
    unit = context.unit
    migration = _migration(update)
    if migration is not None:
        await chats.follow(unit, *migration)
        return False
    chat = update.effective_chat
    user = update.effective_user
    assert chat is not None and user is not None
    known, registered = await directory.gate_lookup(
        unit, person_id=user.id, chat_id=None if chat.type == TgChat.PRIVATE else chat.id
    )
    default = runtime.settings.i18n.default_language
    person = known or Person(id=user.id, name=user.full_name, username=user.username)
    own_language = person.language or normalize_language(user.language_code, default)

    if chat.type == TgChat.PRIVATE:
        if known is None:
            # a stranger (a journalist, say): a public contact line, nothing about incidents
            _press_contact(update, context, own_language)
            return False
        context.actor = Actor(
            person=person,
            chat=None,
            chat_id=chat.id,
            languages=(own_language,),
            own_language=own_language,
            timezone=runtime.settings.i18n.timezone,
            update_id=update.update_id,
        )
        return True

    if registered is None:
        # store nothing, not even the claim; say so if the bot was addressed
        log.info("event=unregistered_chat chat=%d", chat.id)
        await context.abandon()
        await _not_registered(update, own_language)
        return False
    if _bot_added(update):
        # the bot is back in a chat that had blocked or removed it: what was held goes out
        await chats.reinstated(unit, chat.id)
    if known is None:
        # a member of a registered group: known from now on (name only, never their chatter)
        await directory.ensure_person(unit, user.id, user.full_name, user.username, own_language)
    context.actor = Actor(
        person=person,
        chat=registered,
        chat_id=chat.id,
        languages=registered.languages,
        own_language=own_language,
        timezone=registered.timezone,
        update_id=update.update_id,
    )
    return True


def _migration(update: Update) -> tuple[int, int] | None:
    """A group upgraded to a supergroup: Telegram's service message in the old chat
    (migrate_to_chat_id) or in the new one (migrate_from_chat_id): (old id, new id)."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return None
    if message.migrate_to_chat_id:
        return chat.id, message.migrate_to_chat_id
    if message.migrate_from_chat_id:
        return message.migrate_from_chat_id, chat.id
    return None


async def finish_update(update: Update, context: PContext) -> None:
    """The last group: an update that no handler took (chatter, a stale edit) is stored as
    handled all the same, so Telegram delivering it again after a crash does nothing twice."""
    await context.finish()


def _bot_added(update: Update) -> bool:
    change = update.my_chat_member
    return change is not None and change.new_chat_member.status in (
        ChatMemberStatus.MEMBER,
        ChatMemberStatus.ADMINISTRATOR,
    )


def _addressed_to_bot(update: Update) -> bool:
    """A command, a button, or the bot being added: worth an answer in an unknown chat."""
    message = update.effective_message
    if update.callback_query is not None:
        return True
    if update.my_chat_member is not None:
        return _bot_added(update)
    # an edited command was answered when it was sent
    edited = update.edited_message is not None
    return bool(message and not edited and message.text and message.text.startswith("/"))


async def _not_registered(update: Update, language: str) -> None:
    """Say so (with the id an admin needs), and do nothing else."""
    chat = update.effective_chat
    assert chat is not None
    if not _addressed_to_bot(update):
        return
    html = render_text(
        (language,),
        N_(
            "This chat is not registered with Passerelle, so I do not act here. "
            "An admin can register it with this chat id: {chat_id}"
        ),
        chat_id=f"<code>{chat.id}</code>",
    )
    if update.callback_query is not None:
        await update.callback_query.answer()
    await update.get_bot().send_message(chat.id, html)


def _press_contact(update: Update, context: PContext, language: str) -> None:
    if update.callback_query is not None:
        context.toast("")
        return
    configured = context.runtime.settings.media.press_contact
    line = configured.get(language) or next(iter(configured.values()), None)  # type: ignore[call-overload]
    html = (
        text(line)
        if line
        else render_text(
            (language,),
            N_(
                "Passerelle is a coordination tool of the emergency services. Journalists: "
                "please contact the press office of the authority in charge (mayor's office, "
                "prefecture or governor)."
            ),
        )
    )
    context.answer(html)
